package statement

// RedactedText is Text with every secret value printed as '***': the values of secret
// options (catalog.SecretOptions, keys in any case), and the header values and the json
// body of http_request, which can carry credentials. It is what an audit record keeps.
func RedactedText(s Statement) string { return "" }

// Redact returns src with the same values RedactedText hides replaced by '***', for
// source that may not parse: it works on tokens, and what follows a token it cannot read
// (an unterminated string, say) is dropped.
func Redact(src string) string { return "" }
