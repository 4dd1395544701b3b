package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/config"
)

// running is a server started in-process on free loopback ports.
type running struct {
	app        *app
	dataDir    string
	landingDir string
	conn       *grpc.ClientConn
	baseURL    string
	stop       func() error
}

func startServer(t *testing.T, args ...string) *running {
	t.Helper()
	args = append([]string{"--grpc-addr=127.0.0.1:0", "--http-addr=127.0.0.1:0", "--data-dir=" + t.TempDir(), "--shutdown-timeout=5s"}, args...)
	cfg, err := config.Load(args, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := start(ctx, cfg, logger, func(string) string { return "" })
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	served := make(chan error, 1)
	go func() {
		defer a.close()
		served <- a.serve(ctx)
	}()
	conn, err := grpc.NewClient(a.server.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	r := &running{app: a, conn: conn, baseURL: "http://" + a.server.HTTPAddr(), dataDir: cfg.DataDir, landingDir: cfg.SourceDirs()[0]}
	var stopped bool
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		conn.Close()
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("server did not stop within 10s")
		}
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return r
}

// do sends a REST call and decodes the JSON answer into out (when not nil).
func (r *running) do(t *testing.T, method, path, key string, body any, out any) int {
	t.Helper()
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		reader = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.baseURL+path, reader)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type restError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func loansJSON() map[string]any {
	return map[string]any{
		"id":          "credit.loans",
		"description": "대출 원장",
		"columns": []map[string]any{
			{"name": "loan_id", "type": "INT64"},
			{"name": "customer_id", "type": "STRING", "grade": 1, "pii": true},
			{"name": "amount", "type": "DECIMAL", "precision": 18, "scale": 2},
			{"name": "opened", "type": "DATE"},
		},
		"primaryKey":  []string{"loan_id"},
		"partitionBy": []map[string]any{{"column": "opened", "transform": "MONTH"}},
		"grade":       2,
		"subjectKey":  "customer_id",
	}
}

func TestHealthReflectionOpenAPIAndMetrics(t *testing.T) {
	r := startServer(t)
	ctx := context.Background()

	hc, err := healthpb.NewHealthClient(r.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "lakeplane.v1.IngestService"})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("gRPC health: %v %v", hc, err)
	}
	var hz map[string]string
	if code := r.do(t, "GET", "/healthz", "", nil, &hz); code != 200 || hz["status"] != "SERVING" {
		t.Fatalf("/healthz: %d %v", code, hz)
	}

	stream, err := reflectionpb.NewServerReflectionClient(r.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	refl, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var services []string
	for _, s := range refl.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"lakeplane.v1.IngestService", "lakeplane.v1.QualityService", "lakeplane.v1.GrantsService", "lakeplane.v1.CostReportService", "lakeplane.v1.StorageService", "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(services, ","), want) {
			t.Errorf("reflection lists %v, missing %s", services, want)
		}
	}

	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if code := r.do(t, "GET", "/openapi.json", "", nil, &doc); code != 200 {
		t.Fatalf("/openapi.json: %d", code)
	}
	if doc.Swagger != "2.0" || doc.Paths["/v1/datasets"]["post"] == nil || doc.Paths["/v1/datasets/{id}:ingest"]["post"] == nil {
		t.Fatalf("/openapi.json lacks the dataset paths: %v", doc.Paths)
	}

	// One call, then its metrics. The server records a call's duration
	// when the call ends, which may be just after the client has its
	// response: wait for the series a little.
	r.do(t, "GET", "/v1/datasets", "", nil, nil)
	var metrics []byte
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(r.baseURL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(metrics), `rpc_method="lakeplane.v1.IngestService/ListDatasets"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no series for ListDatasets:\n%s", grepLines(string(metrics), "rpc"))
		}
	}
}

func TestDatasetCRUDOverRESTAndGRPC(t *testing.T) {
	r := startServer(t)
	ctx := context.Background()
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)

	var created map[string]any
	if code := r.do(t, "POST", "/v1/datasets", "", loansJSON(), &created); code != 200 {
		t.Fatalf("create: %d %v", code, created)
	}
	if created["etag"] == "" || created["createTime"] == nil {
		t.Fatalf("create returned no etag or createTime: %v", created)
	}

	// Read back over gRPC: every field survived.
	got, err := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "credit.loans"})
	if err != nil {
		t.Fatalf("GetDataset: %v", err)
	}
	d := got.GetDataset()
	if d.GetDescription() != "대출 원장" || d.GetGrade() != 2 || d.GetSubjectKey() != "customer_id" || len(d.GetColumns()) != 4 {
		t.Fatalf("dataset read back wrong: %v", d)
	}
	amount := d.GetColumns()[2]
	if amount.GetType() != lakeplanev1.ColumnType_DECIMAL || amount.GetPrecision() != 18 || amount.GetScale() != 2 || !amount.GetNullable() {
		t.Fatalf("amount column: %v", amount)
	}
	if d.GetColumns()[0].GetNullable() {
		t.Fatalf("the primary-key column came back nullable")
	}
	if cust := d.GetColumns()[1]; cust.GetGrade() != 1 || !cust.GetPii() {
		t.Fatalf("customer_id column: %v", cust)
	}
	if p := d.GetPartitionBy(); len(p) != 1 || p[0].GetTransform() != lakeplanev1.Transform_MONTH {
		t.Fatalf("partitionBy: %v", p)
	}

	// Create a second one over gRPC and list over REST, paged.
	second := &lakeplanev1.Dataset{Id: "credit.cards", Columns: []*lakeplanev1.Column{{Name: "card_no", Type: lakeplanev1.ColumnType_STRING}}}
	if _, err := ingest.CreateDataset(ctx, &lakeplanev1.CreateDatasetRequest{Dataset: second}); err != nil {
		t.Fatalf("CreateDataset: %v", err)
	}
	var page struct {
		Datasets      []map[string]any `json:"datasets"`
		NextPageToken string           `json:"nextPageToken"`
	}
	r.do(t, "GET", "/v1/datasets?pageSize=1", "", nil, &page)
	if len(page.Datasets) != 1 || page.Datasets[0]["id"] != "credit.cards" || page.NextPageToken == "" {
		t.Fatalf("first page: %+v", page)
	}
	r.do(t, "GET", "/v1/datasets?pageSize=1&pageToken="+page.NextPageToken, "", nil, &page)
	if len(page.Datasets) != 1 || page.Datasets[0]["id"] != "credit.loans" || page.NextPageToken != "" {
		t.Fatalf("second page: %+v", page)
	}

	// PATCH: the fields in the body change, nothing else.
	var updated map[string]any
	patch := map[string]any{"description": "loans ledger", "etag": d.GetEtag(), "retention": map[string]any{"separateAfterColumn": "opened", "separateAfterDays": 30}}
	if code := r.do(t, "PATCH", "/v1/datasets/credit.loans", "", patch, &updated); code != 200 {
		t.Fatalf("patch: %d %v", code, updated)
	}
	if updated["description"] != "loans ledger" || updated["grade"] != float64(2) || updated["etag"] == d.GetEtag() {
		t.Fatalf("patched dataset: %v", updated)
	}

	// The etag read before the PATCH is stale now.
	var stale restError
	if code := r.do(t, "PATCH", "/v1/datasets/credit.loans", "", map[string]any{"description": "x", "etag": d.GetEtag()}, &stale); code != http.StatusConflict || stale.Code != int(codes.Aborted) {
		t.Fatalf("stale etag: %d %+v", code, stale)
	}
	_, err = ingest.DeleteDataset(ctx, &lakeplanev1.DeleteDatasetRequest{Id: "credit.loans", Etag: d.GetEtag()})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("delete with stale etag: %v", err)
	}

	// Adding a nullable column evolves the schema over gRPC.
	cols := append(d.GetColumns(), &lakeplanev1.Column{Name: "note", Type: lakeplanev1.ColumnType_STRING})
	evolved, err := ingest.UpdateDataset(ctx, &lakeplanev1.UpdateDatasetRequest{
		Dataset:    &lakeplanev1.Dataset{Id: "credit.loans", Columns: cols},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"columns"}},
	})
	if err != nil || len(evolved.GetDataset().GetColumns()) != 5 || evolved.GetDataset().GetDescription() != "loans ledger" {
		t.Fatalf("add column: %v %v", evolved, err)
	}

	if _, err := ingest.DeleteDataset(ctx, &lakeplanev1.DeleteDatasetRequest{Id: "credit.loans"}); err != nil {
		t.Fatalf("DeleteDataset: %v", err)
	}
	var gone restError
	if code := r.do(t, "GET", "/v1/datasets/credit.loans", "", nil, &gone); code != http.StatusNotFound || gone.Code != int(codes.NotFound) || !strings.Contains(gone.Message, "credit.loans") {
		t.Fatalf("get after delete: %d %+v", code, gone)
	}
}

func TestErrorCodes(t *testing.T) {
	r := startServer(t)
	ctx := context.Background()
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)
	if code := r.do(t, "POST", "/v1/datasets", "", loansJSON(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}

	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		httpCode int
		code     codes.Code
		message  string
	}{
		{"bad id", "POST", "/v1/datasets", map[string]any{"id": "Credit.Loans", "columns": []any{map[string]any{"name": "a", "type": "STRING"}}}, 400, codes.InvalidArgument, `id: namespace "Credit"`},
		{"bad decimal names the column", "POST", "/v1/datasets", map[string]any{"id": "a.b", "columns": []any{map[string]any{"name": "amt", "type": "DECIMAL", "precision": 40}}}, 400, codes.InvalidArgument, "columns[0].precision"},
		{"unknown type", "POST", "/v1/datasets", map[string]any{"id": "a.b", "columns": []any{map[string]any{"name": "amt", "type": "MONEY"}}}, 400, codes.InvalidArgument, "MONEY"},
		{"unknown JSON field", "POST", "/v1/datasets", map[string]any{"id": "a.b", "colums": []any{}}, 400, codes.InvalidArgument, "colums"},
		{"primary key not a column", "POST", "/v1/datasets", map[string]any{"id": "a.b", "columns": []any{map[string]any{"name": "x", "type": "STRING"}}, "primaryKey": []string{"y"}}, 400, codes.InvalidArgument, "primaryKey[0]"},
		{"grade beyond scale", "POST", "/v1/datasets", map[string]any{"id": "a.b", "grade": 4, "columns": []any{map[string]any{"name": "x", "type": "STRING"}}}, 400, codes.InvalidArgument, "grade: 4 is outside the grade scale 1..3"},
		{"already exists", "POST", "/v1/datasets", loansJSON(), 409, codes.AlreadyExists, "credit.loans"},
		{"not found", "GET", "/v1/datasets/credit.nothing", nil, 404, codes.NotFound, "credit.nothing"},
		{"dropping a column", "PATCH", "/v1/datasets/credit.loans", map[string]any{"columns": []any{map[string]any{"name": "loan_id", "type": "INT64"}}}, 400, codes.FailedPrecondition, "would be dropped"},
		{"partition change", "PATCH", "/v1/datasets/credit.loans", map[string]any{"partitionBy": []any{}}, 400, codes.InvalidArgument, "partition_by"},
		{"bad page token", "GET", "/v1/datasets?pageToken=garbage", nil, 400, codes.InvalidArgument, "pageToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e restError
			code := r.do(t, tt.method, tt.path, "", tt.body, &e)
			if code != tt.httpCode || e.Code != int(tt.code) || !strings.Contains(e.Message, tt.message) {
				t.Fatalf("got HTTP %d %+v; want HTTP %d, %s, message containing %q", code, e, tt.httpCode, tt.code, tt.message)
			}
		})
	}

	// The same mapping over gRPC.
	_, err := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "../etc.passwd"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "id") {
		t.Fatalf("GetDataset with a path trick: %v", err)
	}
}

func TestAPIKeyAuthentication(t *testing.T) {
	keys := map[string]string{"eng": "engineer-secret-key", "ana": "analyst-secret-key"}
	cfgFile := filepath.Join(t.TempDir(), "lakeplane.yaml")
	yaml := fmt.Sprintf(`auth: apikey
apiKeys:
  - name: erin
    sha256: %q
    groups: [data-eng]
  - name: anna
    sha256: %q
    groups: [analysts]
roles:
  engineer: [data-eng]
  analyst: [analysts]
`, sha(keys["eng"]), sha(keys["ana"]))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, "--config="+cfgFile)
	ctx := context.Background()

	var e restError
	if code := r.do(t, "GET", "/v1/datasets", "", nil, &e); code != 401 || e.Code != int(codes.Unauthenticated) {
		t.Fatalf("no key: %d %+v", code, e)
	}
	if code := r.do(t, "GET", "/v1/datasets", "not-a-key", nil, &e); code != 401 || e.Code != int(codes.Unauthenticated) {
		t.Fatalf("wrong key: %d %+v", code, e)
	}
	if code := r.do(t, "POST", "/v1/datasets", keys["ana"], loansJSON(), &e); code != 403 || e.Code != int(codes.PermissionDenied) {
		t.Fatalf("analyst creating a dataset: %d %+v", code, e)
	}
	if code := r.do(t, "POST", "/v1/datasets", keys["eng"], loansJSON(), nil); code != 200 {
		t.Fatalf("engineer creating a dataset: %d", code)
	}
	var page struct {
		Datasets []map[string]any `json:"datasets"`
	}
	if code := r.do(t, "GET", "/v1/datasets", keys["ana"], nil, &page); code != 200 || len(page.Datasets) != 1 {
		t.Fatalf("analyst listing: %d %v", code, page)
	}

	// gRPC: the same keys in the authorization header.
	ingest := lakeplanev1.NewIngestServiceClient(r.conn)
	_, err := ingest.GetDataset(ctx, &lakeplanev1.GetDatasetRequest{Id: "credit.loans"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC without key: %v", err)
	}
	withKey := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+keys["ana"])
	if _, err := ingest.GetDataset(withKey, &lakeplanev1.GetDatasetRequest{Id: "credit.loans"}); err != nil {
		t.Fatalf("gRPC analyst GetDataset: %v", err)
	}
	_, err = ingest.DeleteDataset(withKey, &lakeplanev1.DeleteDatasetRequest{Id: "credit.loans"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("gRPC analyst DeleteDataset: %v", err)
	}
	// Health needs no key.
	if _, err := healthpb.NewHealthClient(r.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health without key: %v", err)
	}
}

func TestRequestIDIsEchoed(t *testing.T) {
	r := startServer(t)
	req, _ := http.NewRequest("GET", r.baseURL+"/v1/datasets", nil)
	req.Header.Set("X-Request-Id", "trace-me-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "trace-me-42" {
		t.Fatalf("X-Request-Id = %q", got)
	}
}

func TestGracefulShutdown(t *testing.T) {
	r := startServer(t)
	if code := r.do(t, "POST", "/v1/datasets", "", loansJSON(), nil); code != 200 {
		t.Fatalf("create: %d", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(r.baseURL + "/healthz"); err == nil {
		t.Fatal("HTTP still answers after shutdown")
	}
	if err := r.app.store.Ping(context.Background()); err == nil {
		t.Fatal("the store is still open after shutdown")
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sha is the hex SHA-256 of an API key, as the configuration holds it.
func sha(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
