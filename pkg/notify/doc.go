// Package notify delivers what the VRRP engine and the health checkers want the world to know:
// notify scripts, notify FIFOs and SMTP alerts, with keepalived's arguments, line formats and
// mail subjects.
//
// Nothing here ever blocks its caller. Each channel of delivery is a bounded queue owned by a
// Dispatcher; when a queue is full the notification is dropped and counted (Stats), never
// waited for. FIFO lines and mails are delivered in order by one goroutine each. Scripts are
// ordered per instance, per sync group and per virtual server (its real servers' notify_up /
// notify_down, then its quorum scripts, as keepalived orders them) and run concurrently across
// those (at most Config.MaxScripts at once), so a hung script delays nobody else; keepalived
// runs every script concurrently and guarantees no order at all.
//
// # Scripts
//
// A command line is split into words the way keepalived documents it: unquoted white space
// separates arguments, single or double quotes group words that contain spaces, and a backslash
// escapes the next character. The first word is executed directly (execve), without a shell, so
// `|`, `>`, `;`, `$VAR` and globs reach the program literally, as in keepalived 2.x. A script file
// without a "#!" line (ENOEXEC) is run by /bin/sh, as execvp(3) does. Whoever wants a shell writes
// one: `notify_master "/bin/sh -c 'echo master >> /tmp/log'"`.
//
// Scripts get a fixed PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) and
// no other environment, stdin from /dev/null, and their output is kept (4 KiB) for the logs.
// They run in their own process group with a timeout; at the timeout the whole group gets
// SIGTERM, and SIGKILL after a grace period, so a script ignoring SIGTERM (or one that forked
// children) cannot pile up. keepalived itself does not time notify scripts out; the timeout is
// ours (Dispatcher.ScriptTimeout, default 30 s).
//
// The user a script runs as follows keepalived: the script's own user/group, else the global
// script_user, else "keepalived_script" when that user exists, else the daemon's own user. With
// enable_script_security a script that would run as root is refused when its file or any
// directory above it is writable by a non-root user (CheckSecure).
//
// # FIFO lines
//
//	INSTANCE "VI_1" MASTER 100
//	GROUP "G1" BACKUP 0
//	VS [203.0.113.10]:tcp:80 UP
//	RS [198.51.100.2]:tcp:80 [203.0.113.10]:tcp:80 DOWN
//
// # Mail
//
// SMTP alerts use keepalived's subjects ("[router_id] VRRP Instance VI_1 - Entering MASTER
// state", "[router_id] Realserver [ip]:tcp:80 of virtual server [vip]:tcp:80 - DOWN", ...) and
// headers (Date, From, Subject, X-Mailer: Keepalived, To), sent with HELO / MAIL FROM / RCPT TO /
// DATA. A failed delivery is retried with back-off (keepalived drops it), without blocking.
package notify
