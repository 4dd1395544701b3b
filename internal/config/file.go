package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"go.yaml.in/yaml/v3"
)

// File is the content of a YAML configuration file. A nil pointer or slice
// means the key is absent, so that environment variables and defaults apply.
// Keys are the flag names in lowerCamelCase; apiKeys, roles, gradeLabels and
// alertWebhooks exist only in the file.
type File struct {
	GRPCAddr           *string        `yaml:"grpcAddr"`
	HTTPAddr           *string        `yaml:"httpAddr"`
	DataDir            *string        `yaml:"dataDir"`
	Store              *string        `yaml:"store"`
	PostgresDSN        *string        `yaml:"postgresDsn"`
	Auth               *string        `yaml:"auth"`
	InsecureNoAuth     *bool          `yaml:"insecureNoAuth"`
	LogLevel           *string        `yaml:"logLevel"`
	ShutdownTimeout    *time.Duration `yaml:"shutdownTimeout"`
	GradeTagKey        *string        `yaml:"gradeTagKey"`
	GradeLevels        *int           `yaml:"gradeLevels"`
	Warehouse          *string        `yaml:"warehouse"`
	AllowedSourceDirs  *string        `yaml:"allowedSourceDirs"`
	Workers            *int           `yaml:"workers"`
	S3Endpoint         *string        `yaml:"s3Endpoint"`
	S3Region           *string        `yaml:"s3Region"`
	S3PathStyle        *bool          `yaml:"s3PathStyle"`
	AlertAttempts      *int           `yaml:"alertAttempts"`
	AlertBackoff       *time.Duration `yaml:"alertBackoff"`
	AlertMaxBackoff    *time.Duration `yaml:"alertMaxBackoff"`
	RetentionSweep     *time.Duration `yaml:"retentionSweepInterval"`
	GovernanceRefresh  *time.Duration `yaml:"governanceRefresh"`
	GovernanceMaxStale *time.Duration `yaml:"governanceMaxStaleness"`

	// GradeLabels names the grade levels, one label per level, most
	// sensitive first.
	GradeLabels []string `yaml:"gradeLabels"`
	// APIKeys are the keys accepted by --auth=apikey.
	APIKeys []FileAPIKey `yaml:"apiKeys"`
	// Roles maps a role name to the groups that hold it.
	Roles map[string][]string `yaml:"roles"`
	// AlertWebhooks are the webhooks told of failed validations.
	AlertWebhooks []FileAlertWebhook `yaml:"alertWebhooks"`
}

// FileAlertWebhook is one entry of the file's alertWebhooks. The signing
// secret is never written down, only the environment variable holding it.
type FileAlertWebhook struct {
	Name      string `yaml:"name"`
	URL       string `yaml:"url"`
	SecretEnv string `yaml:"secretEnv"`
}

// FileAPIKey is one entry of the file's apiKeys. The key itself is never
// written down, only its SHA-256.
type FileAPIKey struct {
	// Name is the name of the principal the key authenticates.
	Name string `yaml:"name"`
	// SHA256 is the hex-encoded SHA-256 digest of the key (64 hex digits).
	SHA256 string `yaml:"sha256"`
	// Groups are the groups of the principal.
	Groups []string `yaml:"groups"`
}

// Parse decodes a YAML configuration file strictly: a key that File does not
// know is an error naming the key and its line, and so is a value of the
// wrong type or a second YAML document. An empty file is an empty File.
// Parse checks the syntax only; Load validates the merged configuration.
func Parse(data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return &f, nil
		}
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return &f, nil
	case err != nil:
		return nil, fmt.Errorf("parsing YAML: %w", err)
	default:
		return nil, fmt.Errorf("parsing YAML: line %d: a configuration file holds one YAML document, found another", next.Line)
	}
}
