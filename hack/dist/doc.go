// Command dist packs the kubectl plugin's release archives and writes their
// krew manifest (make dist):
//
//	go run ./hack/dist -version VERSION -binaries DIR -out DIST [-url URL] [-mtime UNIX] [-files README.md]
//
// For each platform it reads the binary DIR/OS_ARCH/kubectl-hotreload
// (kubectl-hotreload.exe on windows), packs it with the -files into
// DIST/kubectl-hotreload_VERSION_OS_ARCH.tar.gz (.zip on windows), and writes
// DIST/plugins/hotreload.yaml, the krew manifest naming each archive by URL/NAME
// and its sha256: the file to submit to krew-index at a release, or to install
// from the local files (kubectl krew install --manifest=... --archive=...).
//
// The archives are reproducible: the same binaries and files give the same
// bytes (entries sorted, owned by uid and gid 0, every time the -mtime), as long
// as the Go release that packs them compresses the same way.
//
// It never builds the binaries (make dist cross-compiles them) and never
// reaches the network.
package main
