package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The storage chores through REST on the embedded default.
func TestStorageChores(t *testing.T) {
	r := startServer(t)
	uri := r.landing(t, "customers.csv", []byte(customersCSV(1, 50, 0)))

	var count struct {
		Lines   string `json:"lines"`
		Objects string `json:"objects"`
	}
	if code := r.do(t, "POST", "/v1/objects:countLines", "", map[string]any{"uri": uri, "csv": true}, &count); code != 200 || count.Lines != "50" || count.Objects != "1" {
		t.Fatalf("count CSV records (quoted newlines count once): %d %+v", code, count)
	}
	r.do(t, "POST", "/v1/objects:countLines", "", map[string]any{"uri": uri}, &count)
	if count.Lines != "101" {
		t.Fatalf("count lines: %+v", count)
	}

	body, _ := json.Marshal(map[string]any{"uri": uri, "pattern": "^7,", "maxMatches": 5})
	resp, err := http.Post(r.baseURL+"/v1/objects:grep", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if resp.StatusCode != 200 || len(lines) == 0 || !strings.Contains(strings.Join(lines, ""), `"line":"14"`) {
		t.Fatalf("grep stream: %d %q", resp.StatusCode, lines)
	}

	var proposed map[string]any
	if code := r.do(t, "POST", "/v1/objects:discoverSchema", "", map[string]any{"uri": uri}, &proposed); code != 200 {
		t.Fatalf("discover: %d %v", code, proposed)
	}
	cols, _ := proposed["columns"].([]any)
	if len(cols) != 5 || cols[2].(map[string]any)["type"] != "DECIMAL" || cols[3].(map[string]any)["type"] != "DATE" {
		t.Fatalf("discovered columns: %v", proposed["columns"])
	}

	var refused map[string]any
	warehouse := "file://" + r.dataDir + "/warehouse"
	if code := r.do(t, "POST", "/v1/objects:deletePrefix", "", map[string]any{"uri": warehouse + "/"}, &refused); code != 400 || !strings.Contains(refused["message"].(string), "warehouse") {
		t.Fatalf("deleting the warehouse root: %d %v", code, refused)
	}
	var deleted struct {
		ObjectsDeleted string `json:"objectsDeleted"`
	}
	if code := r.do(t, "POST", "/v1/objects:deletePrefix", "", map[string]any{"uri": uri, "dryRun": true}, &deleted); code != 200 || deleted.ObjectsDeleted != "1" {
		t.Fatalf("dry-run delete: %d %+v", code, deleted)
	}
}
