package contract

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/hotreload/hotreload/pkg/contract/version"
)

// Link is the link step's command line: `reloader link`, run in the app's
// image from BinDir (LinkCommand()).
type Link struct {
	// Version is the contract version it was written with.
	Version int
	// Copies are the image directories to copy into emptyDirs, in order.
	Copies []DirCopy
	// Links are the subPath files to replace by symlinks into the live copy.
	Links []FileLink
	// MaxCopyBytes bounds a directory to copy; DefaultMaxCopyBytes when zero.
	MaxCopyBytes int64
}

// DirCopy names an image directory From to copy into the emptyDir mounted at To.
type DirCopy struct{ From, To string }

// FileLink names a subPath file, as the app sees it, to replace with a
// symlink to Target in the live copy.
type FileLink struct{ File, Target string }

// DefaultMaxCopyBytes bounds an image directory the link step copies.
const DefaultMaxCopyBytes int64 = 64 << 20

// LinkCommand returns the link step's command: the binary install copied, in
// the app's image.
func LinkCommand() []string { return []string{ReloaderBinary, "link"} }

// ErrPair means a --copy or --link value is not KEY=VALUE.
var ErrPair = errors.New("want KEY=VALUE")

// Args returns the link container's args (its command is LinkCommand).
func (l Link) Args() []string {
	args := versionArgs(l.Version)
	for _, c := range l.Copies {
		args = append(args, "--copy", c.From+"="+c.To)
	}
	for _, f := range l.Links {
		args = append(args, "--link", f.File+"="+f.Target)
	}
	if l.MaxCopyBytes != 0 && l.MaxCopyBytes != DefaultMaxCopyBytes {
		args = append(args, "--max-copy-bytes", strconv.FormatInt(l.MaxCopyBytes, 10))
	}
	return args
}

// LinkFlags parses link's flags; see RunFlags.
type LinkFlags struct {
	l             Link
	copies, links repeatFlag
}

// NewLinkFlags defines link's flags on fs.
func NewLinkFlags(fs *flag.FlagSet) *LinkFlags {
	f := &LinkFlags{}
	fs.IntVar(&f.l.Version, versionFlag, 1, version.Usage)
	fs.Var(&f.copies, "copy", "`D=DIR`: copy image directory D into DIR (repeatable)")
	fs.Var(&f.links, "link", "`FILE=TARGET`: make FILE, under a copied D, a symlink to TARGET (repeatable)")
	fs.Int64Var(&f.l.MaxCopyBytes, "max-copy-bytes", DefaultMaxCopyBytes, "fail when a directory to copy holds more than `N` bytes")
	return f
}

// Link returns the parsed command line. Call it after the flag set parsed.
func (f *LinkFlags) Link() (Link, error) {
	l := f.l
	if err := checkVersion(l.Version); err != nil {
		return l, err
	}
	for _, v := range f.copies {
		from, to, err := pair("--copy", v)
		if err != nil {
			return l, err
		}
		l.Copies = append(l.Copies, DirCopy{From: from, To: to})
	}
	for _, v := range f.links {
		file, target, err := pair("--link", v)
		if err != nil {
			return l, err
		}
		l.Links = append(l.Links, FileLink{File: file, Target: target})
	}
	return l, nil
}

func pair(name, v string) (string, string, error) {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return "", "", fmt.Errorf("%s %q: %w", name, v, ErrPair)
	}
	return k, val, nil
}

// ParseLink parses the flags of link (its args, after LinkCommand).
func ParseLink(args []string) (Link, error) {
	if err := CheckVersion(args); err != nil {
		return Link{}, err
	}
	fs := quiet("link")
	f := NewLinkFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Link{}, fmt.Errorf("reloader link: %w", err)
	}
	if fs.NArg() > 0 {
		return Link{}, fmt.Errorf("reloader link: unexpected argument %q", fs.Arg(0))
	}
	return f.Link()
}
