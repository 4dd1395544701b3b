package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The grants story through REST, as the grants issue tells it.
func TestGrantsThroughREST(t *testing.T) {
	r := startServer(t)
	for _, d := range []map[string]any{
		{"id": "credit.loans", "columns": []map[string]any{{"name": "loan_id", "type": "INT64"}, {"name": "rrn", "type": "STRING"}, {"name": "amount", "type": "DECIMAL", "precision": 18, "scale": 2}}, "primaryKey": []string{"loan_id"}},
		{"id": "credit.untagged", "columns": []map[string]any{{"name": "x", "type": "STRING"}}},
		{"id": "misc.notes", "columns": []map[string]any{{"name": "x", "type": "STRING"}}},
	} {
		if code := r.do(t, "POST", "/v1/datasets", "", d, nil); code != 200 {
			t.Fatalf("create %v: %d", d["id"], code)
		}
	}
	assign := func(resource map[string]any, grade string) {
		t.Helper()
		var out map[string]any
		if code := r.do(t, "POST", "/v1/tags:assign", "", map[string]any{"resource": resource, "tags": map[string]string{"grade": grade}}, &out); code != 200 {
			t.Fatalf("assign %v grade %s: %d %v", resource, grade, code, out)
		}
	}
	assign(map[string]any{"database": "credit"}, "3")
	assign(map[string]any{"database": "credit", "table": "loans"}, "3")
	assign(map[string]any{"database": "credit", "table": "loans", "column": "rrn"}, "1")
	// credit.untagged inherits the database's grade; misc.notes has none at all.

	var grant map[string]any
	if code := r.do(t, "POST", "/v1/groupGrants", "", map[string]any{"group": "analysts", "grade": 2, "permissions": []string{"SELECT"}}, &grant); code != 200 {
		t.Fatalf("group grant: %d %v", code, grant)
	}

	var resolved struct {
		LfGrants []struct {
			Principal    string `json:"principal"`
			ResourceType string `json:"resourceType"`
			Expression   []struct {
				TagKey    string   `json:"tagKey"`
				TagValues []string `json:"tagValues"`
			} `json:"expression"`
			Permissions []string `json:"permissions"`
		} `json:"lfGrants"`
		Accessible []struct {
			Database        string   `json:"database"`
			Table           string   `json:"table"`
			Columns         []string `json:"columns"`
			ExcludedColumns []string `json:"excludedColumns"`
		} `json:"accessible"`
	}
	if code := r.do(t, "POST", "/v1/grants:resolve", "", map[string]any{"group": "analysts", "grade": 2, "permissions": []string{"SELECT"}}, &resolved); code != 200 {
		t.Fatalf("resolve: %d", code)
	}
	var sawTable, sawDatabase bool
	for _, g := range resolved.LfGrants {
		if len(g.Expression) != 1 || g.Expression[0].TagKey != "grade" || strings.Join(g.Expression[0].TagValues, ",") != "2,3" {
			t.Fatalf("LF grant expression: %+v", g)
		}
		switch g.ResourceType {
		case "TABLE":
			sawTable = slices.Equal(g.Permissions, []string{"SELECT"})
		case "DATABASE":
			sawDatabase = slices.Equal(g.Permissions, []string{"DESCRIBE"})
		}
	}
	if !sawTable || !sawDatabase {
		t.Fatalf("LF grants: %+v", resolved.LfGrants)
	}
	var loans bool
	for _, a := range resolved.Accessible {
		if a.Database == "misc" {
			t.Fatalf("an untagged table was opened: %+v", a)
		}
		if a.Table == "loans" {
			loans = true
			if strings.Join(a.Columns, ",") != "loan_id,amount" || strings.Join(a.ExcludedColumns, ",") != "rrn" {
				t.Fatalf("credit.loans opened as %+v", a)
			}
		}
	}
	if !loans {
		t.Fatalf("credit.loans not accessible: %+v", resolved.Accessible)
	}

	var check struct {
		Allowed       bool     `json:"allowed"`
		DeniedColumns []string `json:"deniedColumns"`
		Reason        string   `json:"reason"`
	}
	r.do(t, "POST", "/v1/access:check", "", map[string]any{"groups": []string{"analysts"}, "database": "credit", "table": "loans", "columns": []string{"rrn"}, "permission": "SELECT"}, &check)
	if check.Allowed || strings.Join(check.DeniedColumns, ",") != "rrn" || !strings.Contains(check.Reason, "grade") {
		t.Fatalf("check on the grade-1 column: %+v", check)
	}
	r.do(t, "POST", "/v1/access:check", "", map[string]any{"groups": []string{"analysts"}, "database": "misc", "table": "notes", "permission": "SELECT"}, &check)
	if check.Allowed {
		t.Fatalf("an untagged table was allowed: %+v", check)
	}
	// The dataset's grade is the table's grade tag: one state, two views.
	var d map[string]any
	r.do(t, "GET", "/v1/datasets/credit.loans", "", nil, &d)
	if d["grade"] != float64(3) || fmt.Sprint(d["columns"].([]any)[1].(map[string]any)["grade"]) != "1" {
		t.Fatalf("dataset grades after tagging: %v", d)
	}
}

// An analyst previews only the columns its groups open.
func TestPreviewShowsOnlyReadableColumns(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "lakeplane.yaml")
	yaml := fmt.Sprintf("auth: apikey\napiKeys:\n  - name: anna\n    sha256: %q\n    groups: [analysts]\n  - name: root\n    sha256: %q\n    groups: [platform]\nroles:\n  analyst: [analysts]\n  admin: [platform]\n",
		sha("anna-key"), sha("root-key"))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, "--config="+cfgFile)
	ds := customersDataset()
	ds["grade"] = 2
	ds["columns"].([]map[string]any)[1]["grade"] = 1 // name
	if code := r.do(t, "POST", "/v1/datasets", "root-key", ds, nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	uri := r.landing(t, "c.csv", []byte(customersCSV(1, 5, 0)))
	var started map[string]any
	r.do(t, "POST", "/v1/datasets/insure.customers:ingest", "root-key", map[string]any{"sourceUri": uri}, &started)
	if j := r.watchWithKey(t, started["id"].(string), "root-key"); j.GetState().String() != "SUCCEEDED" {
		t.Fatalf("load: %v", j)
	}
	r.do(t, "POST", "/v1/tags:assign", "root-key", map[string]any{"resource": map[string]any{"database": "insure"}, "tags": map[string]string{"grade": "2"}}, nil)
	r.do(t, "POST", "/v1/groupGrants", "root-key", map[string]any{"group": "analysts", "grade": 2, "permissions": []string{"SELECT"}}, nil)

	var preview struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	if code := r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=2", "anna-key", nil, &preview); code != 200 {
		t.Fatalf("analyst preview: %d", code)
	}
	if strings.Join(preview.Columns, ",") != "customer_id,premium,joined,note" || len(preview.Rows) != 2 || len(preview.Rows[0]) != 4 {
		t.Fatalf("analyst preview: %+v", preview)
	}
	r.do(t, "GET", "/v1/datasets/insure.customers/rows?limit=2", "root-key", nil, &preview)
	if len(preview.Columns) != 5 {
		t.Fatalf("admin preview: %+v", preview.Columns)
	}
}
