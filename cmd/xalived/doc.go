// Command xalived is the keepalived-compatible daemon. This file set owns
// the command line (keepalived's flags plus xalived's own), the config test
// (-t) and --dump-config; the daemon itself is started by runDaemon.
package main
