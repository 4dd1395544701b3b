package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse checks that no file makes Parse or validation panic, that
// validation is deterministic, and that a parsed file written back as YAML
// gives the same configuration.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"---\n",
		"null\n",
		"[]\n",
		"grpcAddr: 127.0.0.1:9090\n",
		"grpcAddr: [1, 2]\n",
		"nope: 1\n",
		"shutdownTimeout: 15\n",
		"shutdownTimeout: 2h45m\n",
		"gradeLevels: 99999999999999999999\n",
		"gradeLevels: 0x4\n",
		"gradeLabels: [a, b]\n",
		"insecureNoAuth: yes\n",
		"auth: apikey\napiKeys: []\n",
		"apiKeys:\n  - name: a\n    sha256: " + "00" + "\n",
		"apiKeys:\n  - {name: a, sha256: 72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20, groups: []}\n",
		"roles: {admin: [a], admin: [b]}\n",
		"roles: {root: [a], auditor: null, steward: ['']}\n",
		"a: &a [*a]\n",
		"x: &x {y: *x}\n",
		"dataDir: a\n---\ndataDir: b\n",
		"dataDir: !!binary aGVsbG8=\n",
		"store: postgres\npostgresDsn: \"\\x00\"\n",
		"alertWebhooks:\n  - {name: ops, url: 'https://h.example/hook', secretEnv: OPS_KEY}\n",
		"alertWebhooks:\n  - {name: a, url: x, secretEnv: '1'}\n  - {name: a}\n",
		"alertWebhooks: []\nalertAttempts: 0\nalertBackoff: 1ms\nalertMaxBackoff: 0s\n",
		"alertWebhooks: {name: a}\n",
		"governanceRefresh: 250ms\n",
		"governanceRefresh: -1s\n",
		"governanceRefresh: 0\n",
		"alertWebhooks:\n  - {name: \"\\u0000\", url: 'http://[::1]:0/%zz', secretEnv: _}\n",
		"\t",
		"{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if file != nil {
				t.Fatalf("Parse returned both a file and an error: %v", err)
			}
			return
		}
		c, err := fromFile(file)
		c2, err2 := fromFile(file)
		if errString(err) != errString(err2) || !reflect.DeepEqual(c, c2) {
			t.Fatalf("validation is not stable:\n%v\n%v", err, err2)
		}
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("a valid configuration no longer validates: %v", err)
			}
		}

		// Written back and parsed again, the file means the same.
		out, merr := yaml.Marshal(file)
		if merr != nil {
			t.Fatalf("marshalling a parsed file: %v", merr)
		}
		again, perr := Parse(out)
		if perr != nil {
			t.Fatalf("re-parsing %q: %v", out, perr)
		}
		c3, err3 := fromFile(again)
		if errString(err) != errString(err3) || !reflect.DeepEqual(c, c3) {
			t.Fatalf("round trip through %q changed the configuration:\n%+v, %v\n%+v, %v", out, c, err, c3, err3)
		}
	})
}

// fromFile returns the configuration that file alone gives, validated.
func fromFile(file *File) (*Config, error) {
	c := Default()
	if err := c.applyFile(file); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
