// Package control owns xalived's control API: the status document (the JSON contract that
// `xalivectl status --json` prints and tests read), and a small request/response protocol over a
// unix socket through which a running daemon is asked for its status, to reload or to stop.
//
// The wire format is one JSON object per line in each direction: a Request {"cmd":"status"}
// answered by a Response {"ok":true,"status":{...}} or {"ok":false,"error":"..."}. A connection
// may carry several requests in sequence. Unknown commands get an error response, never a
// dropped connection, so older clients and newer daemons stay compatible.
package control
