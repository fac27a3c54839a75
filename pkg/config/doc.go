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
//
// The reference is Debian's keepalived 2.2.7 run as `keepalived -t`:
//
//   - Severity Error means keepalived reports a configuration error, so
//     `keepalived -t` (and `xalived -t`) exits non-zero. Like keepalived,
//     the model still holds what keepalived would run with: the offending
//     keyword ignored, clamped or defaulted. Warning is a message that does
//     not fail -t.
//   - Diagnostic.Late marks problems found after a block was read
//     (cross-references, defaults); keepalived prints those without a line,
//     xalived points them at the block.
//   - A keyword missing its parameter stops reading, as keepalived does.
//   - Keywords added after 2.2.7 are accepted with a warning naming the
//     version that introduced them.
//   - Options.HostChecks adds what -t checks on the running host:
//     interfaces exist, script users exist, scripts are executable, and
//     scripts do not run as root without enable_script_security.
//
// testdata/corpus/AGREEMENT.md records how xalived -t agrees with keepalived
// -t on the shared corpus; testdata/keywords-keepalived.json and
// testdata/values-keepalived.json record keepalived's verdicts on every
// keyword in every block and on values at their limits.
package config
