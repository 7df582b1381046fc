//! `report`: the results file (one JSON object per scenario) as Markdown tables, the ratios of
//! oauth-broker to the Tableau sample measured in the same run, and the goals checked.

use serde_json::Value;

pub fn run(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let records: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{path}: {e}")))
        .collect::<Result<_, _>>()?;
    let of =
        |kind: &str| -> Vec<&Value> { records.iter().filter(|r| r["scenario"] == kind).collect() };
    let (idle, flows, startup) = (of("idle"), of("flows"), of("startup"));
    let mut out = String::new();
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let cpu = |r: &Value, label: &str| -> String {
        r["cpu"]["processes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["label"].as_str().is_some_and(|l| l.starts_with(label)))
            .map(|p| format!("{:.2}", f(&p["cores"])))
            .collect::<Vec<_>>()
            .join("+")
    };

    if !idle.is_empty() {
        out.push_str("### Idle sessions\n\n| service | requested | opened | open after hold | RSS before (KiB) | RSS with all open (KiB) | mean KiB/session | slope KiB/session | CPU while holding (cores) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &idle {
            let hold_cpu = r["hold_cpu"]["processes"][0]["cores"]
                .as_f64()
                .unwrap_or(f64::NAN);
            out.push_str(&format!(
                "| {} | {} | {} | {} ({:.0} s) | {} | {} | {:.2} | {:.2} | {:.3} |\n",
                r["label"].as_str().unwrap_or("?"),
                r["requested"],
                r["opened"],
                r["open_after_hold"],
                f(&r["hold_s"]),
                r["rss_before_kib"],
                r["rss_after_open_kib"],
                f(&r["mean_kib_per_session"]),
                f(&r["slope_kib_per_session"]),
                hold_cpu
            ));
        }
        out.push('\n');
    }

    if !flows.is_empty() {
        out.push_str("### Sign-in flows\n\n| service | C | sign-ins/s | errors | whole flow p50 / p90 / p99 / max (ms) | /complete → signedin p50 / p90 / p99 / max (ms) | CPU service (cores) | CPU redis | CPU mock | CPU loadgen | machine busy |\n|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|\n");
        for r in &flows {
            let p = |k: &str| {
                format!(
                    "{:.2} / {:.2} / {:.2} / {:.1}",
                    f(&r[k]["p50_ms"]),
                    f(&r[k]["p90_ms"]),
                    f(&r[k]["p99_ms"]),
                    f(&r[k]["max_ms"])
                )
            };
            let errors = r["errors"]
                .as_object()
                .filter(|m| !m.is_empty())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_else(|| "0".into());
            let mut notes = String::new();
            if r["generator_bound"] == true {
                notes.push_str(" (generator-bound)");
            }
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {:.0} %{} |\n",
                r["label"].as_str().unwrap_or("?"),
                r["concurrency"],
                f(&r["signins_per_s"]),
                errors,
                p("flow"),
                p("complete_to_signedin"),
                [cpu(r, "broker"), cpu(r, "replica"), cpu(r, "sample")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("+"),
                dash(cpu(r, "redis")),
                cpu(r, "mock"),
                cpu(r, "loadgen"),
                f(&r["cpu"]["machine_busy"]) * 100.0,
                notes
            ));
        }
        out.push('\n');
    }

    if !startup.is_empty() {
        out.push_str("### Start to ready\n\n| command | runs | p50 (ms) | max (ms) | failed |\n|---|---:|---:|---:|---:|\n");
        for r in &startup {
            out.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {} |\n",
                r["label"].as_str().unwrap_or("?"),
                r["runs"],
                f(&r["ready"]["p50_ms"]),
                f(&r["ready"]["max_ms"]),
                r["failed"]
            ));
        }
        out.push('\n');
    }

    // Ratios and goals, pairing each oauth-broker figure with the sample's from this run.
    let mut goals = Vec::new();
    let sample_idle = idle.iter().find(|r| r["service"] == "socketio");
    for r in idle.iter().filter(|r| r["service"] == "broker") {
        let ours = f(&r["slope_kib_per_session"]);
        let held = r["open_after_hold"].as_u64().unwrap_or(0);
        let requested = r["requested"].as_u64().unwrap_or(0);
        goals.push(format!(
            "| idle sessions held by one process ({}) | {held} of {requested} | all the open-file limit allows | {} |",
            r["label"].as_str().unwrap_or("?"),
            yes(held == requested)
        ));
        if let Some(s) = sample_idle {
            let theirs = f(&s["slope_kib_per_session"]);
            goals.push(format!(
                "| RSS slope per idle session | {ours:.2} KiB vs sample {theirs:.2} KiB = {:.2}× | ≤ 0.5× | {} |",
                ours / theirs,
                yes(ours <= 0.5 * theirs)
            ));
        }
    }
    for r in flows.iter().filter(|r| r["service"] == "broker") {
        let c = &r["concurrency"];
        let label = r["label"].as_str().unwrap_or("?");
        let redis = label.contains("redis");
        if let Some(s) = flows
            .iter()
            .find(|s| s["service"] == "socketio" && &s["concurrency"] == c)
        {
            let ratio = f(&r["signins_per_s"]) / f(&s["signins_per_s"]);
            goals.push(format!(
                "| sign-ins/s at C={c}, {label} | {:.0} vs sample {:.0} = {ratio:.1}× | ≥ 10× at C=64 | {} |",
                f(&r["signins_per_s"]),
                f(&s["signins_per_s"]),
                if c == 64 { yes(ratio >= 10.0) } else { "(info)" }
            ));
        }
        let p99 = f(&r["complete_to_signedin"]["p99_ms"]);
        let bound = if redis { 5.0 } else { 1.0 };
        let failed = r["errors"].as_object().is_some_and(|m| !m.is_empty());
        goals.push(format!(
            "| /complete → signedin p99, {label}, C={c} | {p99:.2} ms{} | < {bound} ms | {} |",
            if failed { " (with errors)" } else { "" },
            yes(p99 < bound && !failed)
        ));
    }
    for r in &startup {
        let label = r["label"].as_str().unwrap_or("?");
        if label.contains("sample") {
            continue;
        }
        let max = f(&r["ready"]["max_ms"]);
        goals.push(format!(
            "| start to /readyz 200, {label} | p50 {:.1} ms, max {max:.1} ms | < 100 ms | {} |",
            f(&r["ready"]["p50_ms"]),
            yes(max < 100.0 && r["failed"] == 0)
        ));
    }
    if !goals.is_empty() {
        out.push_str("### Goals\n\n| goal | measured | target | met |\n|---|---|---|---|\n");
        for g in goals {
            out.push_str(&g);
            out.push('\n');
        }
    }
    Ok(out)
}

fn dash(s: String) -> String {
    if s.is_empty() { "–".into() } else { s }
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}
