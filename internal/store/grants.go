package store

import (
	"context"
	"errors"
	"time"
)

// ErrInUse means that an object cannot be deleted because others refer to
// it (a tag key that a resource carries).
var ErrInUse = errors.New("in use")

// MaxTagsPerResource is the most explicit tags one resource may carry, as in
// Lake Formation.
const MaxTagsPerResource = 50

// ErrTooManyTags means that a change would leave a resource with more than
// MaxTagsPerResource explicit tags.
var ErrTooManyTags = errors.New("too many tags on one resource")

// TagKey is an LF-Tag key and its allowed values, in their defined order.
type TagKey struct {
	Key        string
	Values     []string
	CreateTime time.Time
}

// TagResource names what a tag sits on: a database (Database only), a table
// (Database and Table) or a column (all three).
type TagResource struct {
	Database string
	Table    string
	Column   string
}

// ResourceTags are the explicit tags that the grants store keeps for one
// resource, key to value. The grade tag of tables and columns is not among
// them: it is the Grade of the dataset and of its columns.
type ResourceTags struct {
	Resource TagResource
	Tags     map[string]string
}

// GroupGrant is the desired grant "group Group reads grades Grade..N with
// Permissions", narrowed to the Domains when there are any.
type GroupGrant struct {
	ID    string
	Group string
	Grade int
	// Permissions are Lake Formation permission names (SELECT, DESCRIBE,
	// INSERT, DELETE, ALTER, DROP).
	Permissions []string
	Domains     []string
	CreateTime  time.Time
}

// GrantsState is everything the grants store holds, read at once, so that
// an in-memory index can be built from it at start.
type GrantsState struct {
	TagKeys []*TagKey
	// Tags are the resources with at least one explicit tag, ordered by
	// database, table and column.
	Tags   []*ResourceTags
	Grants []*GroupGrant
}

// Grants keeps tag keys, the explicit tags of resources and group grants.
// Values passed in are not modified and values returned are owned by the
// caller. Checking keys and values against the tagging rules is the
// caller's job; the store enforces uniqueness, MaxTagsPerResource and that
// a tag key in use is not deleted.
type Grants interface {
	// CreateTagKey stores a new tag key and returns it with its CreateTime
	// set. It fails with ErrAlreadyExists when the key exists.
	CreateTagKey(ctx context.Context, k *TagKey) (*TagKey, error)
	// GetTagKey returns the tag key, or ErrNotFound.
	GetTagKey(ctx context.Context, key string) (*TagKey, error)
	// ListTagKeys returns one page of tag keys ordered by key.
	ListTagKeys(ctx context.Context, opts ListTagKeysOptions) (Page[*TagKey], error)
	// DeleteTagKey removes a tag key. It fails with ErrNotFound when there
	// is none, and with ErrInUse while a resource carries the key.
	DeleteTagKey(ctx context.Context, key string) error

	// SetResourceTags sets the tags in set and removes the keys in remove
	// (removing a key the resource lacks is no error) on one resource, in
	// one transaction, and returns the resource's explicit tags afterwards.
	// It fails with ErrTooManyTags, changing nothing, when the resource
	// would carry more than MaxTagsPerResource tags.
	SetResourceTags(ctx context.Context, r TagResource, set map[string]string, remove []string) (map[string]string, error)
	// GetResourceTags returns the explicit tags of one resource (empty, not
	// an error, when it has none).
	GetResourceTags(ctx context.Context, r TagResource) (map[string]string, error)
	// ListResourceTags returns one page of the resources with explicit tags,
	// ordered by database, table and column.
	ListResourceTags(ctx context.Context, opts ListResourceTagsOptions) (Page[*ResourceTags], error)
	// DeleteResourceTags removes the explicit tags of a table and of its
	// columns (as when its dataset is deleted) and returns how many tags it
	// removed.
	DeleteResourceTags(ctx context.Context, database, table string) (int, error)

	// CreateGroupGrant stores a new group grant and returns it with a new ID
	// and CreateTime (the ones in g are ignored).
	CreateGroupGrant(ctx context.Context, g *GroupGrant) (*GroupGrant, error)
	// GetGroupGrant returns the group grant, or ErrNotFound.
	GetGroupGrant(ctx context.Context, id string) (*GroupGrant, error)
	// ListGroupGrants returns one page of group grants ordered by id.
	ListGroupGrants(ctx context.Context, opts ListGroupGrantsOptions) (Page[*GroupGrant], error)
	// DeleteGroupGrant removes a group grant, or fails with ErrNotFound.
	DeleteGroupGrant(ctx context.Context, id string) error

	// LoadGrantsState reads every tag key, tag and group grant, in one
	// consistent read.
	LoadGrantsState(ctx context.Context) (*GrantsState, error)
}

// ListTagKeysOptions selects a page of tag keys.
type ListTagKeysOptions struct {
	// PageSize: <= 0 means DefaultPageSize; capped at MaxPageSize.
	PageSize int
	// PageToken is the previous page's NextPageToken, or "".
	PageToken string
}

// ListResourceTagsOptions selects a page of resources with explicit tags.
type ListResourceTagsOptions struct {
	// PageSize: <= 0 means DefaultPageSize; capped at MaxPageSize.
	PageSize int
	// PageToken is the previous page's NextPageToken, or "". It must be
	// used with the same filters.
	PageToken string
	// Database, when not empty, keeps the database and its tables and
	// columns.
	Database string
	// Table, when not empty (with Database), keeps the table and its
	// columns.
	Table string
}

// ListGroupGrantsOptions selects a page of group grants.
type ListGroupGrantsOptions struct {
	// PageSize: <= 0 means DefaultPageSize; capped at MaxPageSize.
	PageSize int
	// PageToken is the previous page's NextPageToken, or "". It must be
	// used with the same Group.
	PageToken string
	// Group, when not empty, keeps only that group's grants.
	Group string
}
