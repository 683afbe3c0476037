package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestImageFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want imageSpec
	}{
		{"a:dev=bin/webhook,cmd=serve", imageSpec{ref: "a:dev", binary: "bin/webhook", path: "/webhook", cmd: []string{"serve"}, user: 65532}},
		{"a:dev=bin/pause,user=65535,path=/x/p", imageSpec{ref: "a:dev", binary: "bin/pause", path: "/x/p", user: 65535}},
		{"a:dev=rootfs=r,path=/usr/sbin/nginx,user=33", imageSpec{ref: "a:dev", rootfs: []string{"r"}, path: "/usr/sbin/nginx", user: 33}},
		{"a:dev=bin/app,rootfs=r1,rootfs=r2", imageSpec{ref: "a:dev", binary: "bin/app", rootfs: []string{"r1", "r2"}, path: "/app", user: 65532}},
	} {
		var f imageFlags
		if err := f.Set(tc.in); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := f[0]
		if got.ref != tc.want.ref || got.binary != tc.want.binary || got.path != tc.want.path || got.user != tc.want.user ||
			filepath.Join(got.rootfs...) != filepath.Join(tc.want.rootfs...) || filepath.Join(got.cmd...) != filepath.Join(tc.want.cmd...) {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"a:dev", "a:dev=rootfs=r", "a:dev=rootfs=r,path=/", "a:dev=rootfs=", "a:dev=b,size=1"} {
		var f imageFlags
		if err := f.Set(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestDirLayer(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "usr/sbin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "usr/sbin/nginx"), []byte("elf"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dir, "lib64"), 0o755))
	must(t, os.Symlink("/lib/ld.so", filepath.Join(dir, "lib64/ld.so")))
	must(t, os.Mkdir(filepath.Join(dir, "spool"), 0o755))
	must(t, os.Chmod(filepath.Join(dir, "spool"), os.ModeSticky|0o777))

	l, err := dirLayer(dir)
	must(t, err)
	rc, err := l.Uncompressed()
	must(t, err)
	defer rc.Close()
	type file struct {
		typ  byte
		mode int64
		link string
		body string
	}
	got := map[string]file{}
	var order []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: owner %d:%d, time %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = file{h.Typeflag, h.Mode, h.Linkname, string(body)}
		order = append(order, h.Name)
	}
	want := map[string]file{
		"lib64/":         {tar.TypeDir, 0o755, "", ""},
		"lib64/ld.so":    {tar.TypeSymlink, 0o777, "/lib/ld.so", ""},
		"spool/":         {tar.TypeDir, 0o1777, "", ""},
		"usr/":           {tar.TypeDir, 0o755, "", ""},
		"usr/sbin/":      {tar.TypeDir, 0o755, "", ""},
		"usr/sbin/nginx": {tar.TypeReg, 0o755, "", "elf"},
	}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %d", order, len(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %+v, want %+v", name, got[name], w)
		}
	}
	if _, err := dirLayer(t.TempDir()); err == nil {
		t.Error("an empty directory gave a layer")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
