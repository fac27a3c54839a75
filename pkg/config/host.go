package config

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
)

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// hostChecks reports what keepalived -t reports about the running host:
// interfaces named by instances and addresses that do not exist.
// hostIfChecks says whether interface names are checked against the host.
func (p *parser) hostIfChecks() bool {
	return p.opts.HostChecks && !p.cfg.Global.DynamicInterfaces
}

// interfaceExists asks the host (or Options.InterfaceExists).
func (p *parser) interfaceExists(name string) bool {
	if p.opts.InterfaceExists != nil {
		return p.opts.InterfaceExists(name)
	}
	_, err := net.InterfaceByName(name)
	return err == nil
}

func (p *parser) hostChecks() {
	exists := p.interfaceExists
	p.scriptChecks()
	if p.cfg.Global.DynamicInterfaces {
		return
	}
	for i, v := range p.cfg.Instances {
		if v.Interface != "" && !exists(v.Interface) {
			at := p.instStates[i].ifPos
			if at.Line == 0 {
				at = v.Pos
			}
			p.errorf(at, "interface %s for vrrp_instance %s doesn't exist", v.Interface, v.Name)
		}
	}
}

// lookupUserGroup reports whether the user (and group, when given) exist.
func lookupUserGroup(u, g string) bool {
	if _, err := user.Lookup(u); err != nil {
		if _, err := user.LookupId(u); err != nil {
			return false
		}
	}
	if g != "" {
		if _, err := user.LookupGroup(g); err != nil {
			if _, err := user.LookupGroupId(g); err != nil {
				return false
			}
		}
	}
	return true
}

// defaultScriptUser says whether scripts without their own user have a
// user to run as: the global script_user, else keepalived_script, else
// root unless enable_script_security is set.
func (p *parser) defaultScriptUser() bool {
	if p.scriptUserSet {
		return !p.scriptUserBad
	}
	if _, err := user.Lookup("keepalived_script"); err == nil {
		return true
	}
	return !p.cfg.Global.EnableScriptSecurity
}

// scriptUserOK applies keepalived's user checks to a vrrp_script as its
// block closes; false means the script is removed.
func (p *parser) scriptUserOK(v *VRRPScript, userPos, closePos Pos) bool {
	if v.User != "" {
		if !lookupUserGroup(v.User, v.Group) {
			cmd := ""
			if v.Script != nil {
				cmd = v.Script.Cmd
			}
			p.errorf(userPos, "unable to set uid/gid for script '%s'", cmd)
			return false
		}
		return true
	}
	if p.defaultScriptUser() {
		return true
	}
	if !p.scriptUserSet && !p.defaultUserWarned {
		p.errorf(closePos, "unable to set default user keepalived_script for script")
		p.defaultUserWarned = true
	}
	p.errorf(closePos, "unable to set default user for vrrp script %s - removing", v.Name)
	return false
}

// runsAsRoot says whether a script with this user runs as root.
func (p *parser) runsAsRoot(u string) bool {
	if u == "" {
		if p.scriptUserSet {
			u = p.cfg.Global.ScriptUser
		} else if _, err := user.Lookup("keepalived_script"); err == nil {
			return false
		} else {
			return true
		}
	}
	return u == "root" || u == "0"
}

// executable reports whether a script's command can be run.
func executable(sc *Script) bool {
	if sc == nil || len(sc.Args) == 0 {
		return false
	}
	path := sc.Args[0]
	if !filepath.IsAbs(path) {
		lp, err := exec.LookPath(path)
		if err != nil {
			return false
		}
		path = lp
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// scriptPath resolves the file a script runs.
func scriptPath(sc *Script) string {
	if sc == nil || len(sc.Args) == 0 {
		return ""
	}
	path := sc.Args[0]
	if !filepath.IsAbs(path) {
		lp, err := exec.LookPath(path)
		if err != nil {
			return ""
		}
		path = lp
	}
	return path
}

// insecure reports whether a script run as root could be changed by
// someone else: the file or a directory above it is not owned by root, or
// is writable by others (or by a non-root group), sticky directories
// excepted.
func insecure(path string) bool {
	if path == "" {
		return false
	}
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		sticky := fi.IsDir() && fi.Mode()&os.ModeSticky != 0
		mode := fi.Mode().Perm()
		if st.Uid != 0 || (!sticky && (mode&0o002 != 0 || (mode&0o020 != 0 && st.Gid != 0))) {
			return true
		}
		if p == "/" || p == "." {
			return false
		}
	}
}

// scriptChecks runs after parsing: vrrp_scripts whose command is missing
// are disabled, and scripts running as root without enable_script_security
// are a security violation, as keepalived -t reports them.
func (p *parser) scriptChecks() {
	c := p.cfg
	vrrpRoot, checkRoot := false, false
	kept := c.Scripts[:0]
	for _, s := range c.Scripts {
		if !executable(s.Script) {
			p.lateErrorf(s.Pos, "disabling track script %s since not found/accessible", s.Name)
			continue
		}
		if c.Global.EnableScriptSecurity && p.runsAsRoot(s.User) && insecure(scriptPath(s.Script)) {
			p.lateErrorf(s.Pos, "disabling track script %s due to insecure permissions", s.Name)
			continue
		}
		if p.runsAsRoot(s.User) {
			vrrpRoot = true
		}
		kept = append(kept, s)
	}
	c.Scripts = kept
	notify := func(n *Notify) {
		for _, sc := range []*Script{n.NotifyMaster, n.NotifyBackup, n.NotifyFault, n.NotifyStop, n.NotifyDeleted, n.NotifyMasterRxLowerPr, n.NotifyScript} {
			if sc != nil && executable(sc) && p.runsAsRoot(sc.User) {
				vrrpRoot = true
			}
		}
	}
	for _, v := range c.Instances {
		notify(&v.Notify)
	}
	for _, g := range c.SyncGroups {
		notify(&g.Notify)
	}
	for _, vs := range c.VirtualServers {
		for _, sc := range []*Script{vs.QuorumUp, vs.QuorumDown} {
			if sc != nil && executable(sc) && p.runsAsRoot(sc.User) {
				checkRoot = true
			}
		}
		for _, rs := range vs.RealServers {
			for _, sc := range []*Script{rs.NotifyUp, rs.NotifyDown} {
				if sc != nil && executable(sc) && p.runsAsRoot(sc.User) {
					checkRoot = true
				}
			}
			for _, ch := range rs.Checkers {
				if ch.Misc != nil && executable(ch.Misc.Path) && p.runsAsRoot(ch.Misc.User) {
					checkRoot = true
				}
			}
		}
	}
	if c.Global.EnableScriptSecurity {
		return
	}
	if vrrpRoot {
		p.lateErrorf(Pos{File: c.Files[0]}, "SECURITY VIOLATION - scripts are being executed but script_security not enabled")
	}
	if checkRoot {
		p.lateErrorf(Pos{File: c.Files[0]}, "SECURITY VIOLATION - check scripts are being executed but script_security not enabled")
	}
}
