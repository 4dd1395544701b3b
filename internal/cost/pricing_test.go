package cost

import (
	"testing"

	"github.com/shopspring/decimal"
)

var dec = decimal.RequireFromString

func TestGlueRunCost(t *testing.T) {
	p := DefaultPrices()
	for _, tc := range []struct {
		name           string
		run            GlueJobRun
		cost, dpuHours string
	}{
		// 30 s is billed as the 1-minute minimum: 60 × 10 DPU = 600 DPU-s.
		{"below minimum", GlueJobRun{ExecutionTime: 30, MaxCapacity: dec("10")}, "0.073333333", "0.166666667"},
		{"zero time", GlueJobRun{ExecutionTime: 0, MaxCapacity: dec("10")}, "0.073333333", "0.166666667"},
		{"exactly minimum, workers", GlueJobRun{ExecutionTime: 60, WorkerType: "G.1X", NumberOfWorkers: 10}, "0.073333333", "0.166666667"},
		// 61 × 5 × 2 = 610 DPU-s: 0.0745555555… rounds up.
		{"per second above minimum", GlueJobRun{ExecutionTime: 61, WorkerType: "G.2X", NumberOfWorkers: 5}, "0.074555556", "0.169444444"},
		{"one hour of G.025X", GlueJobRun{ExecutionTime: 3600, WorkerType: "G.025X", NumberOfWorkers: 2}, "0.22", "0.5"},
		{"python shell 0.0625", GlueJobRun{ExecutionTime: 10, MaxCapacity: dec("0.0625")}, "0.000458333", "0.001041667"},
		{"python shell 1 DPU", GlueJobRun{ExecutionTime: 7200, MaxCapacity: dec("1")}, "0.88", "2"},
		// DPUSeconds win over time and capacity, with no minimum.
		{"DPUSeconds", GlueJobRun{ExecutionTime: 9999, MaxCapacity: dec("100"), DPUSeconds: dec("1234.5"), HasDPUSeconds: true}, "0.150883333", "0.342916667"},
		{"DPUSeconds below a minute", GlueJobRun{DPUSeconds: dec("1"), HasDPUSeconds: true, WorkerType: "G.1X", NumberOfWorkers: 2}, "0.000122222", "0.000277778"},
		{"DPUSeconds zero", GlueJobRun{DPUSeconds: dec("0"), HasDPUSeconds: true}, "0", "0"},
		{"flex DPUSeconds", GlueJobRun{ExecutionClass: "FLEX", DPUSeconds: dec("1234.5"), HasDPUSeconds: true}, "0.099445833", "0.342916667"},
		{"flex workers", GlueJobRun{ExecutionClass: "FLEX", ExecutionTime: 3600, WorkerType: "G.1X", NumberOfWorkers: 2}, "0.58", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cost, hours, err := p.GlueRunCost(tc.run)
			if err != nil {
				t.Fatalf("GlueRunCost: %v", err)
			}
			if !cost.Equal(dec(tc.cost)) || !hours.Equal(dec(tc.dpuHours)) {
				t.Errorf("GlueRunCost = %s, %s DPU-hours; want %s, %s", cost, hours, tc.cost, tc.dpuHours)
			}
		})
	}
}

// TestGlueRoundingHalf checks that an exact half of the last digit rounds
// away from zero: at $3.60 per DPU-hour a DPU-second costs $0.001.
func TestGlueRoundingHalf(t *testing.T) {
	p := DefaultPrices()
	p.GlueDPUHour = dec("3.6")
	for secs, want := range map[string]string{
		"0.0000015":  "0.000000002", // 0.0000000015
		"0.00000149": "0.000000001", // 0.00000000149
		"0.0000005":  "0.000000001", // 0.0000000005
		"0.00000049": "0",           // 0.00000000049
	} {
		cost, _, err := p.GlueRunCost(GlueJobRun{DPUSeconds: dec(secs), HasDPUSeconds: true})
		if err != nil {
			t.Fatal(err)
		}
		if !cost.Equal(dec(want)) {
			t.Errorf("%s DPU-seconds cost %s, want %s", secs, cost, want)
		}
	}
}

func TestGlueRunCostRejects(t *testing.T) {
	p := DefaultPrices()
	for name, run := range map[string]GlueJobRun{
		"unknown worker type":  {ExecutionTime: 60, WorkerType: "G.99X", NumberOfWorkers: 2},
		"workers without size": {ExecutionTime: 60, WorkerType: "G.1X"},
		"no capacity":          {ExecutionTime: 60},
		"negative time":        {ExecutionTime: -1, MaxCapacity: dec("2")},
		"negative DPUSeconds":  {DPUSeconds: dec("-1"), HasDPUSeconds: true},
	} {
		if c, _, err := p.GlueRunCost(run); err == nil {
			t.Errorf("%s: GlueRunCost = %s, want an error", name, c)
		}
	}
}

func TestAthenaQueryCost(t *testing.T) {
	p := DefaultPrices()
	const mb, tb = 1 << 20, 1 << 40
	for _, tc := range []struct {
		name  string
		q     AthenaQuery
		mb    int64
		price string
	}{
		// 10 MB × $5 / 2^20 MB = 0.0000476837158203125.
		{"nothing scanned: minimum", AthenaQuery{State: "SUCCEEDED", StatementType: "DML"}, 10, "0.000047684"},
		{"one byte: minimum", AthenaQuery{State: "SUCCEEDED", DataScannedInBytes: 1}, 10, "0.000047684"},
		{"exactly the minimum", AthenaQuery{State: "SUCCEEDED", DataScannedInBytes: 10 * mb}, 10, "0.000047684"},
		{"a byte above the minimum: next MB", AthenaQuery{State: "SUCCEEDED", DataScannedInBytes: 10*mb + 1}, 11, "0.000052452"},
		{"one TB", AthenaQuery{State: "SUCCEEDED", DataScannedInBytes: tb}, 1 << 20, "5"},
		{"one TB and a byte", AthenaQuery{State: "SUCCEEDED", DataScannedInBytes: tb + 1}, 1<<20 + 1, "5.000004768"},
		{"DDL is free", AthenaQuery{State: "SUCCEEDED", StatementType: "DDL", DataScannedInBytes: tb}, 0, "0"},
		{"failed is free", AthenaQuery{State: "FAILED", DataScannedInBytes: tb}, 0, "0"},
		{"cancelled before scanning is free", AthenaQuery{State: "CANCELLED"}, 0, "0"},
		{"cancelled after scanning pays the minimum", AthenaQuery{State: "CANCELLED", DataScannedInBytes: 1}, 10, "0.000047684"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotMB, err := p.AthenaMBBilled(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			cost, err := p.AthenaQueryCost(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if gotMB != tc.mb || !cost.Equal(dec(tc.price)) {
				t.Errorf("billed %d MB for %s; want %d MB for %s", gotMB, cost, tc.mb, tc.price)
			}
		})
	}
	if _, err := p.AthenaQueryCost(AthenaQuery{DataScannedInBytes: -1}); err == nil {
		t.Error("a negative scan was priced")
	}
}

func TestNotebookAndJobCost(t *testing.T) {
	p := DefaultPrices()
	for secs, want := range map[int64]string{3600: "0.05", 1: "0.000013889", 0: "0", 86400: "1.2"} {
		cost, _, err := p.NotebookCost("ml.t3.medium", secs)
		if err != nil || !cost.Equal(dec(want)) {
			t.Errorf("NotebookCost(ml.t3.medium, %d s) = %s, %v; want %s", secs, cost, err, want)
		}
	}
	if _, _, err := p.NotebookCost("ml.unknown", 60); err == nil {
		t.Error("an unknown instance type was priced")
	}
	p.PerGBProcessed = dec("0.01")
	cost, err := p.JobCost(JobUsage{CPUSeconds: dec("3600"), BytesRead: 1 << 29, BytesWritten: 1 << 29})
	if err != nil || !cost.Equal(dec("0.05048")) {
		t.Errorf("JobCost = %s, %v; want 0.05048", cost, err)
	}
	// One CPU-second: 0.04048 / 3600 = 0.0000112444…
	cost, err = p.JobCost(JobUsage{CPUSeconds: dec("1")})
	if err != nil || !cost.Equal(dec("0.000011244")) {
		t.Errorf("JobCost(1 CPU-second) = %s, %v; want 0.000011244", cost, err)
	}
}

func TestPricesValidate(t *testing.T) {
	if err := DefaultPrices().Validate(); err != nil {
		t.Fatalf("DefaultPrices: %v", err)
	}
	p := DefaultPrices()
	p.NotebookHourly["ml.t3.medium"] = dec("-1")
	if err := p.Validate(); err == nil {
		t.Error("a negative rate passed Validate")
	}
}
