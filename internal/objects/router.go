package objects

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Router is a Store that hands each call to the adapter for its URI's
// scheme. It parses no more than the scheme: the adapter judges the rest,
// so that the file adapter can answer every path it will not serve with the
// same fault.Denied.
type Router struct {
	stores  map[string]Store
	schemes []string // configured schemes, sorted, for error messages
}

var _ Store = (*Router)(nil)

// NewRouter returns a Router over the given adapters, keyed by scheme
// (SchemeFile, SchemeS3). A scheme left out is refused like an unknown one.
func NewRouter(stores map[string]Store) (*Router, error) {
	rt := &Router{stores: make(map[string]Store, len(stores))}
	for scheme, s := range stores {
		if scheme != SchemeFile && scheme != SchemeS3 {
			return nil, fmt.Errorf("objects: router: unknown scheme %q (want %q or %q)", scheme, SchemeFile, SchemeS3)
		}
		if s == nil {
			return nil, fmt.Errorf("objects: router: nil store for scheme %q", scheme)
		}
		rt.stores[scheme] = s
		rt.schemes = append(rt.schemes, scheme)
	}
	slices.Sort(rt.schemes)
	return rt, nil
}

// route returns the adapter for uri's scheme, or a fault.Invalid naming the
// URI and the forms this router accepts.
func (rt *Router) route(uri string) (Store, error) {
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return nil, rt.refuse(uri, "is not a URI")
	}
	if s, ok := rt.stores[scheme]; ok {
		return s, nil
	}
	if scheme == SchemeFile || scheme == SchemeS3 {
		return nil, rt.refuse(uri, fmt.Sprintf("uses %s://, which this server is not configured for", scheme))
	}
	return nil, rt.refuse(uri, fmt.Sprintf("has the unknown scheme %q", scheme))
}

func (rt *Router) refuse(uri, reason string) error {
	forms := make([]string, 0, len(rt.schemes))
	for _, scheme := range rt.schemes {
		switch scheme {
		case SchemeFile:
			forms = append(forms, "file:///absolute/path")
		case SchemeS3:
			forms = append(forms, "s3://bucket/key")
		}
	}
	if len(forms) == 0 {
		return fault.Invalid("uri", "%q %s; no object store is configured", uri, reason)
	}
	return fault.Invalid("uri", "%q %s; accepted: %s", uri, reason, strings.Join(forms, " or "))
}

// Get implements Store.
func (rt *Router) Get(ctx context.Context, uri string, r *Range) (io.ReadCloser, Info, error) {
	s, err := rt.route(uri)
	if err != nil {
		return nil, Info{}, err
	}
	return s.Get(ctx, uri, r)
}

// Head implements Store.
func (rt *Router) Head(ctx context.Context, uri string) (Info, error) {
	s, err := rt.route(uri)
	if err != nil {
		return Info{}, err
	}
	return s.Head(ctx, uri)
}

// Put implements Store.
func (rt *Router) Put(ctx context.Context, uri string, body io.Reader) (Info, error) {
	s, err := rt.route(uri)
	if err != nil {
		return Info{}, err
	}
	return s.Put(ctx, uri, body)
}

// Delete implements Store.
func (rt *Router) Delete(ctx context.Context, uri string) error {
	s, err := rt.route(uri)
	if err != nil {
		return err
	}
	return s.Delete(ctx, uri)
}

// List implements Store.
func (rt *Router) List(ctx context.Context, prefixURI string) iter.Seq2[Info, error] {
	s, err := rt.route(prefixURI)
	if err != nil {
		return errSeq(err)
	}
	return s.List(ctx, prefixURI)
}
