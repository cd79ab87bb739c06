package statement

import "strings"

// unreadable ends what Redact returns of a source it cannot read to the end.
const unreadable = "/* rest removed: unreadable */"

// Redact returns src with the values RedactedText hides replaced by '***' and its
// comments removed (a comment may hold anything), for source that may not parse: it
// works on tokens, and whatever follows the first token it cannot read (an unterminated
// string, say) is dropped. It hides everything up to the next ',' or ')' after a secret
// option's name (catalog.SecretOptions, in any case, bare, quoted or in single quotes)
// or after the json argument, and every header value of a headers => map(...)
// argument: everything there but the keys, so that a missing quote or comma cannot
// shift a value into a key's place (a key is a string in a key's place by its count of
// both commas and tokens, followed by a ','). Outside parentheses (OPTIONS written without them)
// it does so where a string or => follows the name.
func Redact(src string) string {
	lx := newLexer(src)
	lx.record = true
	var (
		b     strings.Builder
		prev  int // where the last token ended
		depth int // parentheses open
		// run, when >= 0, is the depth at which a hidden value ends (at ',' or ')').
		run = -1
		// pending is set after a secret's name (or json =>), pendingHeaders after
		// headers (=>): the next value starts a run, or a map.
		pending, pendingHeaders bool
		// loose is set when the name came outside parentheses; arrow after its =>.
		loose, arrow bool
		// mapDepth, when > 0, is the depth inside a headers map(...); mapFirst is set
		// after its '(' or a ',' at that depth, while a key may come; mapCommas counts
		// those commas and mapTokens the other tokens at that depth. A token is shown as
		// a key only if both counts put it in a key's place.
		mapDepth, mapCommas, mapTokens int
		mapFirst, mapNext              bool // mapNext: the next token should be the map's '('
		// hidden is set while the last token written was hidden: a run of hidden
		// tokens prints as one '***'.
		hidden bool
		// held is a map key not yet written: it is shown only if a ',' follows it, so
		// that a lone string (map('Authorization: Bearer x')) is hidden.
		held *token
	)
	c := 0 // next comment of lx.comments
	gap := func(end int) {
		for prev < end {
			for c < len(lx.comments) && lx.comments[c][1] <= prev {
				c++
			}
			if c < len(lx.comments) && lx.comments[c][0] < end {
				b.WriteString(src[prev:lx.comments[c][0]])
				b.WriteByte(' ')
				prev = lx.comments[c][1]
				continue
			}
			b.WriteString(src[prev:end])
			prev = end
		}
	}
	emit := func(t token, hide bool) {
		switch {
		case hide && hidden:
			// Part of the value just hidden: the gap before it goes too.
		case hide:
			gap(t.pos.Offset)
			b.WriteString(redacted)
		default:
			gap(t.pos.Offset)
			b.WriteString(t.text)
		}
		hidden = hide
		prev = t.end
	}
	for {
		t := lx.next()
		if held != nil {
			emit(*held, !(t.kind == tokComma && depth == mapDepth))
			held = nil
		}
		if t.kind == tokError {
			gap(t.pos.Offset)
			if s := b.String(); s != "" && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\n") {
				b.WriteByte(' ')
			}
			b.WriteString(unreadable)
			return b.String()
		}
		if t.kind == tokEOF {
			gap(t.pos.Offset)
			return b.String()
		}
		hide := false
		switch {
		case t.kind == tokSemi:
			depth, run, mapDepth = 0, -1, 0
			pending, pendingHeaders, mapNext, arrow = false, false, false, false
		case mapNext:
			mapNext = false
			if t.kind == tokLParen {
				mapDepth, mapCommas, mapTokens, mapFirst = depth+1, 0, 0, true
			} else {
				run, hide = depth, true
			}
		case mapDepth > 0:
			switch {
			case t.kind == tokRParen && depth == mapDepth:
				mapDepth = 0
			case t.kind == tokComma && depth == mapDepth:
				mapCommas++
				mapFirst = true
			default:
				key := mapFirst && mapCommas%2 == 0 && mapTokens%2 == 0 && t.kind == tokString && depth == mapDepth
				hide = !key
				mapFirst = false
				if depth == mapDepth {
					mapTokens++
				}
				if key {
					held = &t
				}
			}
		case run >= 0:
			if (t.kind == tokComma || t.kind == tokRParen) && depth == run {
				run = -1
			} else {
				hide = true
			}
		case pending || pendingHeaders:
			switch {
			case t.kind == tokArrow:
				arrow = true
			case t.kind == tokComma || t.kind == tokRParen:
			case loose && !arrow && t.kind != tokString:
				// Outside parentheses a name is a secret's only when a string or
				// => follows it (a principal named bearer_token stays shown).
			case pendingHeaders && isKw(t, "map"):
				mapNext = true
			default:
				run, hide = depth, true
			}
			if t.kind != tokArrow {
				pending, pendingHeaders, arrow = false, false, false
			}
		case (t.kind == tokWord || t.kind == tokQuoted || t.kind == tokString) && isSecretOption(t.value):
			pending, loose = true, depth == 0
		case (t.kind == tokWord || t.kind == tokQuoted) && strings.EqualFold(strings.TrimSpace(t.value), "json"):
			pending, loose = true, depth == 0
		case (t.kind == tokWord || t.kind == tokQuoted) && strings.EqualFold(strings.TrimSpace(t.value), "headers"):
			pendingHeaders, loose = true, depth == 0
		}
		switch t.kind {
		case tokLParen:
			depth++
		case tokRParen:
			if depth > 0 {
				depth--
			}
		}
		if held == nil {
			emit(t, hide)
		}
	}
}
