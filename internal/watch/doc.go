// Package watch turns kernel change notifications into wake-ups: inotify for a file's
// directory (track_file) and the proc connector for process exec/exit (track_process), so
// trackers react at once instead of polling /proc and stat(2) on a short interval.
//
// Both are hints: a tracker still re-checks on a slow timer, because inotify misses changes on
// some file systems and the proc connector only reports to the initial network namespace.
package watch
