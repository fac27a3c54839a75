// Package config reads keepalived.conf files: it owns the lexer, the
// preprocessor (include and its variants, $VAR parameters, @id conditional
// lines, ~SEQ/~LST repetition, comments, quoting), the parser into a typed
// model (Config and the types it holds), keepalived's defaults, and the
// validation that reports problems as Diagnostics pointing at FILE:LINE.
//
// Parse builds a value first and validates it afterwards, so every node of
// the model keeps the Pos it came from and every message can point at it.
// The model is plain data with stable snake_case JSON field names; other
// packages (vrrp, lvs, check, notify) consume it and must not re-parse.
package config
