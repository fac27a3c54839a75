// Package vmenv is for tests that run inside the vmtest guest (files built with the vmtest tag).
//
// Require fails, never skips, when a kernel module the test needs is absent: a VM test runs only in
// a guest built for it, so a missing feature there is a bug in the guest or the kernel choice.
package vmenv
