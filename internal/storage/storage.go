// Package storage does the object-store chores of the lake right, on
// file:// and s3:// alike, and under governance: it lists, deletes and
// moves the objects under a prefix, counts their lines or CSV records,
// greps them, and samples CSV objects to propose a dataset.
//
// The chores are easy to get subtly wrong, so each says exactly what it
// touches. A prefix without a trailing "/" names that object and the
// objects under it as a folder ("a/b.csv" and "a/b.csv/...", never the
// sibling "a/b.csv.bak"). A delete checks every key's result. A move
// deletes a source only once its copy is confirmed, and deletes exactly the
// keys it copied. Counting and grepping stream, whatever the object size.
//
// Governance: the warehouse root and the table location of a live dataset
// are never deleted or moved here (DeleteDataset does that); reading the
// objects of a dataset's table location (count, grep, discovery) needs the
// caller to be allowed to read every column of the dataset; and reading
// objects anywhere else (the landing zone) needs the engineer, steward or
// admin role. Paths are confined by the objects store (the FileStore's
// roots).
//
// Service holds the logic as plain Go; Handler serves it as
// lakeplanev1.StorageServiceServer.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
)

// TableLocation is where the table of a live dataset keeps its files.
type TableLocation struct {
	// Dataset is the dataset's id, "namespace.table".
	Dataset string
	// URI is the table's location, such as
	// "s3://lake/warehouse/sales.db/orders" (no trailing "/").
	URI string
}

// LocationOf returns the table location the Iceberg SQL catalog gives the
// dataset id under warehouse: "<warehouse>/<namespace>.db/<table>".
func LocationOf(warehouse, id string) string {
	ns, table, _ := strings.Cut(id, ".")
	return strings.TrimRight(warehouse, "/") + "/" + ns + ".db/" + table
}

// AccessChecker says whether the caller of ctx may read every column of a
// dataset; when not, reason says why (which columns, which grade).
type AccessChecker interface {
	CanReadAll(ctx context.Context, datasetID string) (ok bool, reason string)
}

// Config is what a Service needs.
type Config struct {
	// Store reads and writes the objects (normally an *objects.Router).
	Store objects.Store
	// Warehouse is the warehouse root URI, such as "s3://lake/warehouse".
	Warehouse string
	// Tables lists the table locations of the live datasets.
	Tables func(ctx context.Context) ([]TableLocation, error)
	// Access checks column access for objects of a dataset's location.
	Access AccessChecker
	// GradeLevels is the size of the grade scale, for validating a
	// discovered dataset; 0 is fine, since discovery sets no grade.
	GradeLevels int
	// Parallelism bounds the objects read or copied at once; 8 when 0.
	Parallelism int
}

// Service does the storage chores. It is safe for concurrent use.
type Service struct {
	store       objects.Store
	warehouse   string
	tables      func(ctx context.Context) ([]TableLocation, error)
	access      AccessChecker
	gradeLevels int
	parallelism int
	// grepRangeSize is the byte range GrepCounts splits objects into;
	// grepRangeSize (the constant) when 0. Tests set it small.
	grepRangeSize int64
}

// New returns a Service for cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("storage: no object store")
	}
	if cfg.Tables == nil {
		return nil, errors.New("storage: no table locations function")
	}
	if cfg.Access == nil {
		return nil, errors.New("storage: no access checker")
	}
	wh := strings.TrimRight(cfg.Warehouse, "/")
	if _, _, _, err := objects.ParseURI(wh + "/"); err != nil || cfg.Warehouse == "" {
		return nil, fmt.Errorf("storage: warehouse %q is not a file:/// or s3:// URI", cfg.Warehouse)
	}
	p := cfg.Parallelism
	if p <= 0 {
		p = 8
	}
	return &Service{store: cfg.Store, warehouse: wh, tables: cfg.Tables, access: cfg.Access, gradeLevels: cfg.GradeLevels, parallelism: p}, nil
}

// target is the set of objects a request names: exactly the object at
// base and everything under base + "/" (folder), or everything under
// a prefix ending in "/".
type target struct {
	uri    string // as given
	base   string // without a trailing "/"
	folder bool   // uri ends in "/": only what is under it
}

// parseTarget checks uri and returns what it names.
func parseTarget(field, uri string) (target, error) {
	if uri == "" {
		return target{}, fault.Invalid(field, "is required")
	}
	if _, _, _, err := objects.ParseURI(uri); err != nil {
		return target{}, err
	}
	return target{uri: uri, base: strings.TrimRight(uri, "/"), folder: strings.HasSuffix(uri, "/")}, nil
}

// contains reports whether the object uri belongs to t.
func (t target) contains(uri string) bool {
	if !t.folder && uri == t.base {
		return true
	}
	return strings.HasPrefix(uri, t.base+"/")
}

// listPrefix is the prefix to list for t.
func (t target) listPrefix() string {
	if t.folder {
		return t.base + "/"
	}
	return t.base
}

// covers reports whether location (an object or folder, no trailing "/")
// lies inside what t names, or is t's base itself.
func (t target) covers(location string) bool {
	return location == t.base || strings.HasPrefix(location, t.base+"/")
}

// within reports whether t lies inside location.
func (t target) within(location string) bool {
	return t.base == location || strings.HasPrefix(t.base, location+"/")
}

// places returns the table locations and the warehouse root (as a
// location of no dataset), each also under its resolved URI where the
// store resolves it differently (a file:// path through a symlink).
func (s *Service) places(ctx context.Context) ([]TableLocation, error) {
	locs, err := s.tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: list table locations: %w", err)
	}
	locs = append(locs, TableLocation{URI: s.warehouse})
	out := make([]TableLocation, 0, len(locs))
	for _, l := range locs {
		l.URI = strings.TrimRight(l.URI, "/")
		out = append(out, l)
		if r, err := objects.Resolve(ctx, s.store, l.URI); err == nil && strings.TrimRight(r, "/") != l.URI {
			out = append(out, TableLocation{Dataset: l.Dataset, URI: strings.TrimRight(r, "/")})
		}
	}
	return out, nil
}

// views returns t, and t resolved where that differs.
func (s *Service) views(ctx context.Context, t target) []target {
	r, err := objects.Resolve(ctx, s.store, t.uri)
	if err != nil || r == t.uri {
		return []target{t}
	}
	return []target{t, {uri: r, base: strings.TrimRight(r, "/"), folder: t.folder}}
}

// locationOf returns the place holding the object uri (already resolved),
// if any.
func locationOf(places []TableLocation, uri string) (TableLocation, bool) {
	for _, l := range places {
		if uri == l.URI || strings.HasPrefix(uri, l.URI+"/") {
			return l, true
		}
	}
	return TableLocation{}, false
}

// writeGuard refuses deletes and moves that touch the warehouse root or a
// live dataset's table location.
type writeGuard struct {
	s      *Service
	places []TableLocation
}

// guardWrite checks t as a whole and returns the guard for its objects.
func (s *Service) guardWrite(ctx context.Context, field string, t target) (*writeGuard, error) {
	places, err := s.places(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range s.views(ctx, t) {
		for _, l := range places {
			switch {
			case l.Dataset == "" && v.covers(l.URI):
				return nil, fault.Precondition("%s %s holds the warehouse root %s; drop datasets with DeleteDataset", field, t.uri, l.URI)
			case l.Dataset != "" && (v.covers(l.URI) || v.within(l.URI)):
				return nil, fault.Precondition("%s %s touches the table location %s of dataset %s; use DeleteDataset", field, t.uri, l.URI, l.Dataset)
			}
		}
	}
	return &writeGuard{s: s, places: places}, nil
}

// object refuses to move the object uri when it is another name (a
// symlink) of a table's file.
func (g *writeGuard) object(ctx context.Context, uri string) error {
	r, err := objects.Resolve(ctx, g.s.store, uri)
	if err != nil || r == uri {
		return err
	}
	if l, ok := locationOf(g.places, r); ok && l.Dataset != "" {
		return fault.Precondition("%s leads to %s in the table location of dataset %s; use DeleteDataset", uri, r, l.Dataset)
	}
	return nil
}

// landingRoles may read objects outside any dataset's location.
var landingRoles = []auth.Role{auth.Engineer, auth.Steward, auth.Admin}

// readGuard checks the caller's right to read raw objects.
type readGuard struct {
	s         *Service
	places    []TableLocation
	who       string
	landingOK bool            // the caller may read the landing zone
	readable  map[string]bool // datasets checked, and the answer
}

// guardRead checks that the caller may read the raw objects t names: every
// column of each dataset whose location t touches, and the landing-zone
// role unless t lies inside one dataset's location. The guard it returns
// checks each object read, for an object reached through a symlink.
func (s *Service) guardRead(ctx context.Context, t target) (*readGuard, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, fault.Denied("reading %s needs an authenticated caller", t.uri)
	}
	places, err := s.places(ctx)
	if err != nil {
		return nil, err
	}
	g := &readGuard{s: s, places: places, who: p.Name, readable: map[string]bool{}}
	for _, r := range landingRoles {
		g.landingOK = g.landingOK || p.HasRole(r)
	}
	insideOne := false
	for _, v := range s.views(ctx, t) {
		for _, l := range places {
			if l.Dataset == "" {
				continue
			}
			inside := v.within(l.URI)
			if !inside && !v.covers(l.URI) {
				continue
			}
			insideOne = insideOne || inside
			if err := g.dataset(ctx, t.uri, l.Dataset); err != nil {
				return nil, err
			}
		}
	}
	if !insideOne && !g.landingOK {
		return nil, fault.Denied("reading %s (outside any dataset) needs the engineer, steward or admin role", t.uri)
	}
	return g, nil
}

// dataset checks that the caller may read every column of dataset id.
func (g *readGuard) dataset(ctx context.Context, uri, id string) error {
	ok, seen := g.readable[id]
	reason := ""
	if !seen {
		ok, reason = g.s.access.CanReadAll(ctx, id)
		g.readable[id] = ok
	}
	if !ok {
		return fault.Denied("%s holds the raw data of dataset %s, and %s may not read all its columns: %s", uri, id, g.who, reason)
	}
	return nil
}

// object checks one object about to be read: one reached through a
// symlink is judged by where it leads.
func (g *readGuard) object(ctx context.Context, uri string) error {
	r, err := objects.Resolve(ctx, g.s.store, uri)
	if err != nil || r == uri {
		return err
	}
	if l, ok := locationOf(g.places, r); ok && l.Dataset != "" {
		return g.dataset(ctx, uri, l.Dataset)
	}
	if !g.landingOK {
		return fault.Denied("%s leads to %s, outside any dataset, which needs the engineer, steward or admin role", uri, r)
	}
	return nil
}

// ObjectError is a failure on one object, as reported to callers.
type ObjectError struct {
	URI     string
	Message string
}

// maxReportedErrors bounds the errors a response carries, so that a
// failing prefix of millions of keys does not fill memory; the counts stay
// exact.
const maxReportedErrors = 1000

// report appends the failures to errs, up to maxReportedErrors.
func report(errs []ObjectError, failed []objects.ObjectError) []ObjectError {
	for _, f := range failed {
		if len(errs) >= maxReportedErrors {
			break
		}
		errs = append(errs, ObjectError{URI: f.URI, Message: f.Err.Error()})
	}
	return errs
}
