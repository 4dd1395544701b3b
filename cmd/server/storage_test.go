package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// Grep with countOnly through REST: one NDJSON line per object searched,
// each with the object's exact matching line count (a record's quoted
// line break makes a line of its own) and its stored size, a gzip
// object's counted decompressed and sized compressed, an object without a
// match counted 0.
func TestStorageGrepCountOnly(t *testing.T) {
	r := startServer(t)
	dir := filepath.Join(r.landingDir, "grep")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	if _, err := zw.Write([]byte(customersCSV(1, 120, 0))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"a.csv":    []byte(customersCSV(1, 50, 0)),
		"b.csv":    []byte(customersCSV(1, 5, 0)),
		"c.csv.gz": zipped.Bytes(),
		"d.txt":    []byte("nothing to see\n"),
	}
	for name, content := range objects {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Customer ids 1 and 10..19 in a; 1 in b; 1, 10..19 and 100..120 in c.
	body, _ := json.Marshal(map[string]any{"uri": "file://" + dir + "/", "pattern": "^1[0-9]*,", "countOnly": true})
	resp, err := http.Post(r.baseURL+"/v1/objects:grep", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type countJSON struct {
		URI           string `json:"uri"`
		MatchingLines string `json:"matchingLines"`
		BytesRead     string `json:"bytesRead"`
	}
	var got []countJSON
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line struct {
			Result struct {
				Matches []json.RawMessage `json:"matches"`
				Counts  []countJSON       `json:"counts"`
			} `json:"result"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Error != nil || len(line.Result.Matches) != 0 || len(line.Result.Counts) != 1 {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		got = append(got, line.Result.Counts[0])
	}
	if err := sc.Err(); err != nil || resp.StatusCode != 200 {
		t.Fatalf("grep count stream: %d %v", resp.StatusCode, err)
	}
	slices.SortFunc(got, func(a, b countJSON) int { return strings.Compare(a.URI, b.URI) })
	want := []struct {
		name, lines string
	}{{"a.csv", "11"}, {"b.csv", "1"}, {"c.csv.gz", "32"}, {"d.txt", "0"}}
	if len(got) != len(want) {
		t.Fatalf("counts: %+v", got)
	}
	for i, w := range want {
		size := strconv.Itoa(len(objects[w.name]))
		if g := got[i]; g.URI != "file://"+filepath.Join(dir, w.name) || g.MatchingLines != w.lines || g.BytesRead != size {
			t.Errorf("count %d: %+v, want %s with %s matching lines, %s bytes", i, g, w.name, w.lines, size)
		}
	}
}
