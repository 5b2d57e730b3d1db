// Kubernetes' system-validators (the checks behind kubeadm's preflight)
// asked the questions cvm-preflight also answers: the OS, the kernel
// (version and build options) and the cgroup controllers. Built by
// tests/bench/scan_bench.sh from Debian's golang-k8s-system-validators-dev
// with Debian's golang-go in GOPATH mode, offline, to be timed beside the
// scan.
package main

import (
	"os"

	validators "k8s.io/system-validators/validators"
)

func main() {
	r := &validators.StreamReporter{WriteStream: os.Stdout}
	_, errs := validators.Validate(validators.DefaultSysSpec, []validators.Validator{
		&validators.OSValidator{Reporter: r},
		&validators.KernelValidator{Reporter: r},
		&validators.CgroupsValidator{Reporter: r},
	})
	if len(errs) > 0 {
		os.Exit(1)
	}
}
