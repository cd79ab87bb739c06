package storecopy

import (
	"bytes"
	"reflect"
	"time"
)

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// differs returns "" when a and b are equal records, else the path of the first field
// that differs ("Secrets[bearer_token]"), never a value: records hold sealed secrets and
// token hashes. Times are equal when they are the same instant (zone and monotonic
// reading aside), and a nil map, slice or byte slice equals an empty one: stores may
// return either.
func differs(a, b any) string {
	return diffValue("", reflect.ValueOf(a), reflect.ValueOf(b))
}

func diffValue(path string, a, b reflect.Value) string {
	here := path
	if here == "" {
		here = "record"
	}
	if a.IsValid() != b.IsValid() {
		return here
	}
	if !a.IsValid() {
		return ""
	}
	if a.Type() != b.Type() {
		return here
	}
	switch {
	case a.Type() == timeType:
		if !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
			return here
		}
		return ""
	case a.Type() == bytesType:
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			return here
		}
		return ""
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return here
			}
			return ""
		}
		return diffValue(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if d := diffValue(p, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return here
		}
		for i := range a.Len() {
			if d := diffValue(here+"[]", a.Index(i), b.Index(i)); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.Len() != b.Len() {
			return here
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return here
			}
			if d := diffValue(here+"[]", a.MapIndex(k), bv); d != "" {
				if k.Kind() == reflect.String {
					return here + "[" + k.String() + "]"
				}
				return d
			}
		}
		return ""
	case reflect.String:
		if a.String() != b.String() {
			return here
		}
		return ""
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			return here
		}
		return ""
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			return here
		}
		return ""
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if a.Uint() != b.Uint() {
			return here
		}
		return ""
	case reflect.Float32, reflect.Float64:
		if a.Float() != b.Float() {
			return here
		}
		return ""
	}
	// A kind the catalog's records do not use: refuse to call it equal.
	return here
}
