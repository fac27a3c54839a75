package config

import (
	"net"
	"os"
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
func (p *parser) hostChecks() {
	exists := p.opts.InterfaceExists
	if exists == nil {
		exists = func(name string) bool {
			_, err := net.InterfaceByName(name)
			return err == nil
		}
	}
	if p.cfg.Global.DynamicInterfaces {
		return
	}
	for _, v := range p.cfg.Instances {
		if v.Interface != "" && !exists(v.Interface) {
			p.errorf(v.Pos, "(%s) interface %s doesn't exist", v.Name, v.Interface)
		}
		for _, ti := range v.TrackInterfaces {
			if !exists(ti.Name) {
				p.errorf(ti.Pos, "(%s) tracked interface %s doesn't exist", v.Name, ti.Name)
			}
		}
		for _, a := range append(append([]*Address{}, v.VIPs...), v.ExcludedVIPs...) {
			if a.Dev != "" && !exists(a.Dev) {
				p.errorf(a.Pos, "interface %s for ip address %s doesn't exist", a.Dev, a.Prefix)
			}
		}
	}
}
