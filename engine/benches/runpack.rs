//! Runpack hot paths: record, verify, diff, and canonical digests of payloads.
//!
//! Inputs are generated here, deterministically, with the shape of `shared/bench/make_workloads.py`
//! (~1 KB args and results per record). Run: `cargo bench -p gait-engine --bench runpack`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use gait_engine::GoTime;
use gait_engine::canon::{self, ParseOptions};
use gait_engine::runpack::{self, Platform, RecordOptions, VerifyOptions, diff, read};
use std::hint::black_box;

const WORDS: [&str; 16] = [
    "agent", "tool", "policy", "gate", "trace", "runpack", "digest", "verify", "region", "shard",
    "cursor", "latency", "budget", "window", "replay", "café",
];

fn payload(i: usize) -> serde_json::Value {
    let sentence: Vec<&str> = (0..60)
        .map(|k| WORDS[(i * 7 + k * 13) % WORDS.len()])
        .collect();
    serde_json::json!({
        "query": sentence.join(" "),
        "path": format!("/srv/agents/shard-{:02}/part-{i:06}.parquet", i % 16),
        "limit": (i * 37) % 5000,
        "offset": i * 50,
        "sample_rate": 0.125 + (i % 7) as f64 / 10.0,
        "include_deleted": i.is_multiple_of(3),
        "columns": ["partition", "summary", "filter", "host"],
        "filters": [{"field": "cursor", "op": "eq", "value": i}, {"field": "note", "op": "prefix", "value": "say \"hi\""}],
        "options": {"timeout_ms": 1000, "retries": 2, "tags": {"team": "revenue", "ticket": format!("OPS-{i}")}}
    })
}

fn run_record(n: usize, run_id: &str, changed: Option<usize>) -> Vec<u8> {
    let mut intents = Vec::with_capacity(n);
    let mut results = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("intent_{i:06}");
        intents.push(
            serde_json::json!({"intent_id": id, "tool_name": "db.query", "args": payload(i)}),
        );
        let mut result = payload(i + n);
        if changed == Some(i) {
            result["limit"] = serde_json::json!(-1);
        }
        results.push(serde_json::json!({"intent_id": id, "status": "ok", "result": result}));
    }
    serde_json::to_vec(&serde_json::json!({
        "run": {"run_id": run_id, "created_at": "2026-01-15T09:00:00Z",
                "env": {"os": "linux", "arch": "amd64", "runtime": "bench"}, "timeline": []},
        "intents": intents, "results": results, "refs": {"receipts": []}
    }))
    .unwrap()
}

fn record(input: Vec<u8>) -> runpack::Recorded {
    let platform = Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        runtime: "go".into(),
    };
    runpack::record(
        input,
        &RecordOptions {
            run_id: None,
            capture_mode: None,
            context_envelope: None,
            context_evidence_mode: None,
            unsafe_context_raw: false,
            signing_key: None,
            now: GoTime::parse("2026-01-15T09:00:00Z").unwrap(),
            platform: &platform,
            producer_version: "0.0.0-dev",
        },
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let input_1000 = run_record(1000, "bench_1000", None);
    let demo = runpack::demo::record_demo("0.0.0-dev").unwrap().zip;
    let big = record(input_1000.clone()).zip;
    let other = record(run_record(1000, "bench_other", Some(500))).zip;
    let one_payload = serde_json::to_vec(&payload(1)).unwrap();

    c.bench_function("canon/digest_1kb_payload", |b| {
        b.iter(|| {
            canon::digest_json_bytes(black_box(&one_payload), ParseOptions::recorded_payload())
                .unwrap()
        })
    });
    c.bench_function("record/demo", |b| {
        b.iter(|| runpack::demo::record_demo(black_box("0.0.0-dev")).unwrap())
    });
    let mut group = c.benchmark_group("record");
    group.sample_size(20);
    group.bench_function("n1000_reference", |b| {
        b.iter_batched(|| input_1000.clone(), record, BatchSize::LargeInput)
    });
    group.finish();
    c.bench_function("verify/demo", |b| {
        b.iter(|| {
            runpack::verify_bytes(black_box(demo.clone()), &VerifyOptions::default()).unwrap()
        })
    });
    c.bench_function("verify/n1000", |b| {
        b.iter(|| runpack::verify_bytes(black_box(big.clone()), &VerifyOptions::default()).unwrap())
    });
    let load = |zip: &[u8]| read::read_files(&read::open_archive(zip.to_vec()).unwrap()).unwrap();
    c.bench_function("diff/demo_vs_demo", |b| {
        b.iter(|| {
            let (l, r) = (load(&demo), load(&demo));
            diff::diff(
                &l.parse().unwrap(),
                &r.parse().unwrap(),
                diff::Privacy::Full,
            )
            .unwrap()
        })
    });
    c.bench_function("diff/n1000_one_changed_result", |b| {
        b.iter(|| {
            let (l, r) = (load(&big), load(&other));
            let report = diff::diff(
                &l.parse().unwrap(),
                &r.parse().unwrap(),
                diff::Privacy::Full,
            )
            .unwrap();
            assert_eq!(report.summary.changed_results, ["intent_000500"]);
            report
        })
    });
}

criterion_group!(runpack_benches, benches);
criterion_main!(runpack_benches);
