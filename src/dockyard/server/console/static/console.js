// Dockyard console: pages drawn from the daemon's public API (/v1/...), nothing else.
// Routes live in the address's fragment (#/endpoints/NAME), so every link is a real link.
// Elements are built from text nodes only: nothing the API returns is parsed as HTML.
"use strict";

(() => {
  const POLL_MS = 3000;
  const WINDOW_S = 3600;
  const LOG_LINES = 40;
  const CHART_HEIGHT = 180;
  const charting = typeof window.uPlot === "function";
  const main = document.getElementById("main");
  const notice = document.getElementById("notice");
  let timers = [];
  let charts = [];

  // -- building blocks ------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function fill(el, ...children) {
    el.replaceChildren();
    for (const child of children.flat(Infinity)) if (child) el.append(child);
  }

  function when(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const at = typeof seconds === "number" ? new Date(seconds * 1000) : new Date(seconds);
    return at.toLocaleString();
  }

  const GOOD = ["InService", "ACTIVE", "Completed", "healthy", "RUNNING", "COMPLETED"];
  const BAD = ["Failed", "Stopped", "unhealthy", "STOPPED", "OutOfService", "FAILED"];

  function status(text) {
    const word = text === null || text === undefined ? "—" : String(text);
    const tone = GOOD.includes(word) ? "good" : BAD.includes(word) ? "bad" : "warn";
    return h("span", { class: `status ${tone}` }, word);
  }

  function table(headers, rows, emptyText) {
    if (!rows.length) return h("p", { class: "empty" }, emptyText);
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))
      )
    );
  }

  function facts(pairs) {
    return h("dl", { class: "facts" }, pairs.filter((p) => p).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
  }

  function link(path, text) {
    return h("a", { href: `#/${path.map(encodeURIComponent).join("/")}` }, text);
  }

  function short(id, n = 12) {
    if (!id) return "—";
    const text = String(id).replace(/^sha256:/, "");
    return h("code", { title: String(id) }, text.slice(0, n));
  }

  // -- talking to the API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      let text = `HTTP ${status}`;
      try {
        const e = JSON.parse(body);
        text = `${e.code || status}: ${e.field ? e.field + ": " : ""}${e.message}`;
        if (e.hint) text += `\n${e.hint}`;
      } catch (_) {
        if (body) text += `: ${body}`;
      }
      super(text);
    }
  }

  async function call(method, path, body) {
    const headers = { accept: "application/json" };
    if (method !== "GET") headers["x-dockyard-console"] = "1";
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    if (response.status === 401) {
      location.assign("/login");
    }
    if (!response.ok) throw new ApiError(response.status, text);
    return text;
  }

  const get = async (path) => JSON.parse((await call("GET", path)) || "null");
  const lines = async (path) =>
    (await call("GET", path)).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

  function showError(error) {
    notice.textContent = error instanceof Error ? error.message : String(error);
  }

  function every(ms, work) {
    let busy = false;
    const run = async () => {
      if (busy) return;
      busy = true;
      try {
        await work();
        document.getElementById("refreshed").textContent = `updated ${new Date().toLocaleTimeString()}`;
      } catch (error) {
        showError(error);
      } finally {
        busy = false;
      }
    };
    run();
    timers.push(setInterval(run, ms));
  }

  // An action: confirm, call, then say what the API said (its error verbatim).
  function action(label, question, work, opts = {}) {
    const out = h("p", { role: "status", "aria-live": "polite" });
    const button = h("button", {
      type: opts.form ? "submit" : "button",
      class: opts.danger ? "danger" : null,
      onclick: opts.form ? null : () => run(),
    }, label);
    async function run() {
      if (!window.confirm(typeof question === "function" ? question() : question)) return;
      fill(out);
      button.disabled = true;
      try {
        const said = await work();
        out.className = "ok-message";
        out.textContent = said || "Done.";
      } catch (error) {
        out.className = "error";
        out.textContent = error.message;
      } finally {
        button.disabled = false;
      }
    }
    return { button, out, run };
  }

  function scaleForm(current, question, work) {
    const input = h("input", { id: "scale-count", type: "number", min: "1", step: "1", value: current ?? 1, required: true });
    const act = action("Scale", () => question(Number(input.value)), () => work(Number(input.value)), { form: true });
    const form = h("form", { onsubmit: (e) => { e.preventDefault(); act.run(); } },
      h("div", {}, h("label", { for: "scale-count" }, "Replicas"), input), act.button);
    return [form, act.out];
  }

  // -- charts ---------------------------------------------------------------------------

  // A chart: a figure whose data-points says how many points it holds (also for tests),
  // and a line of the latest values in words, so the numbers read without the drawing.
  function chart(title, unit) {
    const latest = h("p", { class: "latest" }, "no data yet");
    const figure = h("figure", { class: "chart", "data-title": title, "data-points": "0" }, h("figcaption", {}, `${title} (${unit})`));
    const holder = h("div", { class: "plot" });
    figure.append(holder, latest);
    const state = { plot: null, labels: "" };
    function update(lines) {
      const points = lines.reduce((n, l) => n + l.t.length, 0);
      figure.dataset.points = String(points);
      latest.textContent = lines.length
        ? "latest: " + lines.map((l) => `${l.label} ${fmt(l.v[l.v.length - 1])}`).join(", ")
        : "no data yet";
      if (!charting || !lines.length) return;
      const data = lines.length === 1 ? [lines[0].t, lines[0].v] : window.uPlot.join(lines.map((l) => [l.t, l.v]));
      const labels = lines.map((l) => l.label).join("|");
      const width = Math.max(200, holder.clientWidth || figure.clientWidth - 16);
      if (state.plot && state.labels === labels) {
        state.plot.setData(data);
        return;
      }
      if (state.plot) state.plot.destroy();
      state.labels = labels;
      state.plot = new window.uPlot(
        {
          width,
          height: CHART_HEIGHT,
          scales: { x: { time: true, range: xRange } },
          series: [{}, ...lines.map((l, i) => ({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 2, dash: DASHES[i % DASHES.length], spanGaps: true }))],
          axes: [{}, { label: unit, size: 60 }],
        },
        data,
        holder
      );
    }
    const entry = { figure, update, resize: () => state.plot && state.plot.setSize({ width: Math.max(200, holder.clientWidth), height: CHART_HEIGHT }), destroy: () => state.plot && state.plot.destroy() };
    charts.push(entry);
    return entry;
  }

  // The time axis spans the points themselves: with a single point uPlot would widen the
  // axis to a thousand days (min + 86400 s in its own units), so one minute either side.
  function xRange(u) {
    const xs = u.data[0];
    if (!xs || !xs.length) return [Date.now() / 1000 - 60, Date.now() / 1000];
    const lo = xs[0], hi = xs[xs.length - 1];
    return lo === hi ? [lo - 60, hi + 60] : [lo, hi];
  }

  // lines differ in dash as well as colour, so they tell apart without colour
  const PALETTE = ["#0b5cad", "#bf5700", "#116329", "#8250df", "#a40e26", "#57606a"];
  const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 1], [8, 8]];

  function fmt(value) {
    if (value === null || value === undefined) return "—";
    return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
  }

  function chartsUnavailable() {
    if (charting) return null;
    return h("p", { class: "note" }, "Charts need the chart library, which is not installed. Run ",
      h("code", {}, "dockyard setup"), " on this machine, then reload. The latest values are shown below each chart's title.");
  }

  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));

  // Usage series of an endpoint or service (GET /v1/metrics/NAME), kept and extended.
  function usageCharts(name) {
    const known = new Map(); // "series|source|metric" -> {series, source, metric, t, v}
    let since = Date.now() / 1000 - WINDOW_S;
    const defs = [
      ["Requests", "req/s", (s) => s.metric === "requests_per_s" && "requests"],
      ["Latency", "ms", (s) => (s.metric === "p50_ms" ? "p50" : s.metric === "p99_ms" ? "p99" : null)],
      ["Errors", "responses/s", (s) => (s.metric === "responses_4xx_per_s" ? "4xx" : s.metric === "responses_5xx_per_s" ? "5xx" : null)],
      ["CPU per replica", "% of one core", (s) => s.metric === "cpu_percent" && s.source.slice(0, 8)],
      ["Memory per replica", "MiB", (s) => s.metric === "memory_mib" && s.source.slice(0, 8)],
    ];
    const made = defs.map(([title, unit, pick]) => ({ pick, chart: chart(title, unit) }));
    const section = h("section", { "aria-labelledby": "usage-h" },
      h("h2", { id: "usage-h" }, "Traffic and usage, last hour"), chartsUnavailable(),
      h("div", { class: "charts" }, made.map((m) => m.chart.figure)));
    async function refresh() {
      const usage = await get(`/v1/metrics/${encodeURIComponent(name)}?since=${since}`);
      const horizon = Date.now() / 1000 - WINDOW_S;
      for (const s of usage.Series) {
        const key = `${s.Series}|${s.Source}|${s.MetricName}`;
        const kept = known.get(key) || { source: s.Source, metric: s.MetricName, t: [], v: [] };
        s.Timestamps.forEach((t, i) => {
          if (!kept.t.length || t > kept.t[kept.t.length - 1]) {
            kept.t.push(t);
            kept.v.push(s.Values[i]);
          }
          since = Math.max(since, t);
        });
        known.set(key, kept);
      }
      for (const kept of known.values()) {
        while (kept.t.length && kept.t[0] < horizon) { kept.t.shift(); kept.v.shift(); }
      }
      const running = new Set(usage.RunningTasks);
      for (const { pick, chart: c } of made) {
        const picked = [];
        for (const kept of known.values()) {
          if (["cpu_percent", "memory_mib"].includes(kept.metric) && !running.has(kept.source)) continue;
          const label = pick(kept);
          if (label && kept.t.length) picked.push({ label, t: kept.t, v: kept.v });
        }
        picked.sort((a, b) => a.label.localeCompare(b.label));
        c.update(picked);
      }
    }
    return { section, refresh };
  }

  // -- pages ----------------------------------------------------------------------------

  function page(title, crumbs) {
    document.title = `${title} · Dockyard console`;
    fill(document.getElementById("crumbs"), crumbs.length ? [link([], "Overview"), ...crumbs.map((c) => [" / ", c])] : []);
    const heading = h("h1", {}, title);
    fill(main, heading);
    return heading;
  }

  function section(id, title, ...extra) {
    const body = h("div", { id: `${id}-body` }, h("p", { class: "empty" }, "Loading…"));
    main.append(h("section", { "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), ...extra, body));
    return body;
  }

  function eventRows(events) {
    return events.map((e) => [when(e.At ?? e.createdAt), e.Kind ? `${e.Kind} ${e.Name}` : null, e.Message ?? e.message].filter((x) => x !== null));
  }

  function overview() {
    page("Overview", []);
    const eps = section("endpoints", "Endpoints");
    const svcs = section("services", "Services");
    const jobs = section("training-jobs", "Training jobs");
    const events = section("events", "Newest events");
    every(POLL_MS, async () => {
      const [e, s, t, ev] = await Promise.all([get("/v1/endpoints"), get("/v1/services"), get("/v1/training-jobs"), get("/v1/events?limit=25")]);
      fill(eps, table(["Endpoint", "Status", "Healthy / desired replicas", "URL"],
        e.Endpoints.map((x) => [link(["endpoints", x.EndpointName], x.EndpointName), status(x.EndpointStatus), `${x.HealthyReplicas} / ${x.DesiredReplicas}`, x.Url]),
        "No endpoints. Deploy one with `dockyard deploy`."));
      fill(svcs, table(["Service", "Status", "Running / desired tasks", "Pending", "URL"],
        s.services.map((x) => [link(["services", x.serviceName], x.serviceName), status(x.status), `${x.runningCount} / ${x.desiredCount}`, String(x.pendingCount ?? 0), s.urls[x.serviceName] || "—"]),
        "No services. Create one with `dockyard service create`."));
      fill(jobs, table(["Training job", "Status", "Secondary status", "Created"],
        t.TrainingJobSummaries.slice().reverse().map((x) => [link(["training-jobs", x.TrainingJobName], x.TrainingJobName), status(x.TrainingJobStatus), x.SecondaryStatus, when(x.CreationTime)]),
        "No training jobs. Start one with `dockyard train`."));
      fill(events, table(["When", "Resource", "What happened"], eventRows(ev.Events.slice().reverse()), "No events yet."));
    });
  }

  function replicaLogs(target, groups) {
    fill(target, groups.length
      ? groups.map(([name, stopped, text]) => h("details", { class: "log", open: true },
          h("summary", {}, `${name}${stopped ? " (stopped)" : ""}`),
          h("pre", { class: "log", tabindex: "0" }, text.length ? text.join("\n") : "(no output)")))
      : h("p", { class: "empty" }, "No replica output yet."));
  }

  function endpointPage(name) {
    page(name, [h("span", {}, "endpoint")]);
    const summary = section("summary", "Endpoint");
    const scaleOut = h("div", { class: "actions" });
    const del = action("Delete endpoint", `Delete endpoint ${name}? Its replicas stop and its route goes.`,
      async () => { await call("DELETE", `/v1/endpoints/${encodeURIComponent(name)}`); return "Deleting: the endpoint goes once its replicas have stopped."; }, { danger: true });
    main.append(h("section", { "aria-labelledby": "actions-h" }, h("h2", { id: "actions-h" }, "Actions"), scaleOut, h("div", { class: "actions" }, del.button), del.out));
    const variants = section("variants", "Variants and weights");
    const replicas = section("replicas", "Replicas");
    const usage = usageCharts(name);
    main.append(usage.section);
    const events = section("events", "Recent events");
    const logs = section("logs", `Replica output (last ${LOG_LINES} lines each)`);
    let scaled = false;
    every(POLL_MS, async () => {
      const path = `/v1/endpoints/${encodeURIComponent(name)}`;
      const [d, ev, out] = await Promise.all([get(path), get(`/v1/events?kind=endpoint&name=${encodeURIComponent(name)}&limit=20`), get(`${path}/logs?tail=${LOG_LINES}`)]);
      if (!scaled) {
        scaled = true;
        fill(scaleOut, scaleForm(d.DesiredReplicas, (n) => `Scale endpoint ${name} to ${n} replicas?`,
          async (n) => { const r = await call("POST", `${path}/capacity`, { DesiredInstanceCount: n }); const body = JSON.parse(r); return `Variant ${body.VariantName} now wants ${body.DesiredInstanceCount} replicas.`; }));
      }
      const stopped = d.Replicas.filter((r) => r.Status === "STOPPED").length;
      fill(summary, facts([
        ["Status", status(d.EndpointStatus)], ["URL", d.Url], ["Image", d.Image], ["Model data", d.ModelDataUrl],
        ["Healthy / desired replicas", `${d.HealthyReplicas} / ${d.DesiredReplicas}`],
        ["Replicas stopped and replaced (still listed)", String(stopped)],
        ["Created", when(d.CreationTime)], ["Last modified", when(d.LastModifiedTime)],
        d.FailureReason ? ["Failure reason", d.FailureReason] : null,
      ]));
      fill(variants, table(["Variant", "Weight", "Desired replicas", "Healthy replicas"],
        d.ProductionVariants.map((v) => [v.VariantName, String(v.InitialVariantWeight ?? "—"), String(v.DesiredInstanceCount ?? v.InitialInstanceCount), String(v.CurrentInstanceCount ?? "—")]), "No variants."));
      fill(replicas, table(["Replica", "Variant", "Status", "Health", "Address", "Image digest", "Stopped reason"],
        d.Replicas.map((r) => [short(r.TaskId, 8), r.Variant, status(r.Status), status(r.Health), r.Address || "—", short(r.Image, 19), r.StoppedReason || "—"]), "No replicas."));
      fill(events, table(["When", "What happened"], ev.Events.slice().reverse().map((e) => [when(e.At), e.Message]), "No events yet."));
      replicaLogs(logs, out.Replicas.map((r) => [r.Replica, r.Stopped, r.Lines]));
      await usage.refresh();
    });
  }

  function servicePage(name) {
    page(name, [h("span", {}, "service")]);
    const summary = section("summary", "Service");
    const scaleOut = h("div", { class: "actions" });
    const path = `/v1/services/${encodeURIComponent(name)}`;
    const del = action("Delete service", `Delete service ${name}? Its tasks are stopped.`,
      async () => { await call("DELETE", `${path}?force=true`); return "Draining: the service goes once its tasks have stopped."; }, { danger: true });
    main.append(h("section", { "aria-labelledby": "actions-h" }, h("h2", { id: "actions-h" }, "Actions"), scaleOut, h("div", { class: "actions" }, del.button), del.out));
    const deployments = section("deployments", "Deployments");
    const tasks = section("tasks", "Tasks (replicas)");
    const usage = usageCharts(name);
    main.append(usage.section);
    const events = section("events", "Recent events");
    const logs = section("logs", `Task output (last ${LOG_LINES} lines each)`);
    let scaled = false;
    every(POLL_MS, async () => {
      const [d, out] = await Promise.all([get(path), lines(`${path}/logs?tail=${LOG_LINES}`)]);
      const s = d.service;
      if (!scaled) {
        scaled = true;
        fill(scaleOut, scaleForm(s.desiredCount, (n) => `Set service ${name}'s desired count to ${n}?`,
          async (n) => { await call("POST", path, { desiredCount: n }); return `Desired count is now ${n}.`; }));
      }
      fill(summary, facts([
        ["Status", status(s.status)], ["URL", d.url], ["Task definition", s.taskDefinition],
        ["Running / desired tasks", `${s.runningCount} / ${s.desiredCount}`], ["Pending tasks", String(s.pendingCount ?? 0)],
        ["Created", when(s.createdAt)],
      ]));
      fill(deployments, table(["Deployment", "Status", "Rollout", "Running / desired", "Task definition"],
        (s.deployments || []).map((x) => [x.id, status(x.status), x.rolloutState || "—", `${x.runningCount} / ${x.desiredCount}`, x.taskDefinition]), "No deployments."));
      fill(tasks, table(["Task", "Status", "Health", "Address", "Image", "Stopped reason"],
        d.tasks.map((t) => [short(t.taskId, 8), status(t.lastStatus), status(t.health), t.address || "—", (t.containers || []).map((c) => c.image).join(", "), t.stoppedReason || "—"]), "No tasks."));
      fill(events, table(["When", "What happened"], (s.events || []).slice(0, 20).map((e) => [when(e.createdAt), e.message]), "No events yet."));
      const byTask = new Map();
      for (const item of out) {
        const key = `${String(item.task).slice(0, 8)}/${item.container}`;
        const group = byTask.get(key) || [key, item.stopped, []];
        group[2].push(item.line);
        byTask.set(key, group);
      }
      replicaLogs(logs, [...byTask.values()]);
      await usage.refresh();
    });
  }

  function trainingPage(name) {
    page(name, [h("span", {}, "training job")]);
    const path = `/v1/training-jobs/${encodeURIComponent(name)}`;
    const summary = section("summary", "Training job");
    const stop = action("Stop training job", `Stop training job ${name}? Its hosts get SIGTERM, then SIGKILL.`,
      async () => { await call("POST", `${path}/stop`); return "Stopping."; }, { danger: true });
    main.append(h("section", { "aria-labelledby": "actions-h" }, h("h2", { id: "actions-h" }, "Actions"), h("div", { class: "actions" }, stop.button), stop.out));
    const metricsBody = h("div", { class: "charts" });
    main.append(h("section", { "aria-labelledby": "metrics-h" }, h("h2", { id: "metrics-h" }, "Metrics (MetricDefinitions)"), chartsUnavailable(), metricsBody));
    const timeline = section("timeline", "Status history");
    const params = section("hyperparameters", "Hyperparameters");
    const channels = section("channels", "Input channels");
    const logs = section("logs", `Output (last ${LOG_LINES * 5} lines)`);
    const metricCharts = new Map();
    every(POLL_MS, async () => {
      const [d, m, out] = await Promise.all([get(path), get(`${path}/metrics`), lines(`${path}/logs`)]);
      stop.button.disabled = d.TrainingJobStatus !== "InProgress";
      const final = (d.FinalMetricDataList || []).map((x) => `${x.MetricName} = ${fmt(x.Value)}`).join(", ");
      fill(summary, facts([
        ["Status", status(d.TrainingJobStatus)], ["Secondary status", d.SecondaryStatus],
        ["Image", d.AlgorithmSpecification?.TrainingImage], ["Hosts", String(d.ResourceConfig?.InstanceCount ?? "—")],
        ["Created", when(d.CreationTime)], ["Training ended", when(d.TrainingEndTime)],
        ["Model", d.ModelArtifacts?.S3ModelArtifacts], final ? ["Final metrics", final] : null,
        d.FailureReason ? ["Failure reason", d.FailureReason] : null,
      ]));
      fill(timeline, h("ol", { class: "timeline" }, (d.SecondaryStatusTransitions || []).map((t) =>
        h("li", {}, h("strong", {}, t.Status), " ", h("span", { class: "when" }, `${when(t.StartTime)}${t.EndTime ? " → " + when(t.EndTime) : ""}`), t.StatusMessage ? h("div", {}, t.StatusMessage) : null))));
      fill(params, table(["Name", "Value"], Object.entries(d.HyperParameters || {}).map(([k, v]) => [k, v]), "No hyperparameters."));
      fill(channels, table(["Channel", "Source", "Content type", "Input mode"], (d.InputDataConfig || []).map((c) =>
        [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri || c.DataSource?.FileSystemDataSource?.DirectoryPath || "—", c.ContentType || "—", c.InputMode || d.AlgorithmSpecification?.TrainingInputMode || "—"]), "No channels."));
      const defined = (d.AlgorithmSpecification?.MetricDefinitions || []).map((x) => x.Name);
      const names = [...new Set([...defined, ...m.Metrics.map((x) => x.MetricName)])];
      if (!names.length && !metricsBody.childElementCount) {
        metricsBody.append(h("p", { class: "empty" }, "This job defines no MetricDefinitions."));
      }
      for (const metric of names) {
        if (!metricCharts.has(metric)) {
          const c = chart(metric, "value");
          metricCharts.set(metric, c);
          metricsBody.append(c.figure);
        }
        metricCharts.get(metric).update(m.Metrics.filter((x) => x.MetricName === metric).map((x) => ({ label: x.Host, t: x.Timestamps, v: x.Values })));
      }
      const text = out.filter((x) => "line" in x).map((x) => `${x.host}: ${x.line}`).slice(-LOG_LINES * 5);
      const pre = logs.querySelector("pre.log");
      const follow = !pre || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      fill(logs, h("pre", { class: "log", tabindex: "0" }, text.length ? text.join("\n") : "(no output yet)"));
      const now = logs.querySelector("pre.log");
      if (follow) now.scrollTop = now.scrollHeight;
    });
  }

  // -- routing --------------------------------------------------------------------------

  function route() {
    timers.forEach(clearInterval);
    timers = [];
    charts.forEach((c) => c.destroy());
    charts = [];
    notice.textContent = "";
    const [kind, name] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (!kind) overview();
    else if (kind === "endpoints" && name) endpointPage(name);
    else if (kind === "services" && name) servicePage(name);
    else if (kind === "training-jobs" && name) trainingPage(name);
    else {
      page("Not found", []);
      main.append(h("p", {}, "No such page. ", link([], "Back to the overview.")));
    }
    main.focus({ preventScroll: true });
  }

  window.addEventListener("hashchange", route);
  route();
})();
