// canbao 参保 — the stewards' review page. Plain JavaScript, no framework, no build step.
// It talks only to this origin's /v1 API with the steward's token (kept in sessionStorage).
"use strict";

const TOKEN_KEY = "canbao.review.token";
const QUEUE_LIMIT = 200;

const STATUS_LABELS = {
  DECEASED: "已死亡", EXEMPT_PRISONER: "服刑人员（无需调查）", ENROLLED: "已参保", OUT_OF_SCOPE: "非本市登记范围",
  INSURED_ELSEWHERE: "已在外省市参保", UNENROLLED: "未参保（入户调查对象）", MERGED: "已合并入其他人员",
};
const SOURCE_LABELS = {
  civil_assistance: "民政局 社会救助", civil_funeral: "民政局 殡葬管理", edu_student: "教委 学籍",
  housing_fund: "住房公积金管理中心", hr_foreign: "人社局 外国人工作许可", hr_labour: "人社局 就业和人才",
  national_insured: "人社部 全民参保登记库", police_permit: "公安局 居住证", police_resident: "公安局 实有人口",
  prison_inmate: "监狱管理局", si_enrolment: "社会保险基金管理中心", survey: "入户调查", tax_iit: "税务局 个人所得税",
};
const FIELD_LABELS = {
  id_number: "身份证号", name: "姓名", birth_date: "出生日期", gender: "性别", phone: "电话", address: "地址",
  employer: "工作单位",
};
const LEVEL_LABELS = {
  exact: "完全相同", converted_15: "15位号转换后相同", one_substitution: "相差一位", adjacent_transposition: "相邻两位颠倒",
  same_characters: "汉字相同", same_pinyin: "同音", similar_pinyin: "拼音相近", surname_only: "仅同姓",
  one_part_differs: "年月日一项不同", day_month_swapped: "日月颠倒", same: "相同", shared: "有相同号码",
  none_shared: "无相同号码", same_room: "同一房间", same_building: "同一楼栋", same_community: "同一社区",
  same_street: "同一街道", same_district: "同一区", different: "不同", missing: "缺失（一方无值）",
};
const LEVEL_CLASS = {
  exact: "agree", converted_15: "agree", same_characters: "agree", same: "agree", shared: "agree",
  same_room: "agree", same_building: "agree",
  one_substitution: "partial", adjacent_transposition: "partial", same_pinyin: "partial", similar_pinyin: "partial",
  surname_only: "partial", one_part_differs: "partial", day_month_swapped: "partial", same_community: "partial",
  same_street: "partial", same_district: "partial",
  different: "disagree", none_shared: "disagree", missing: "missing",
};
const SCHEME_STATE_CLASS = { 正常参保: "normal", 暂停缴费: "suspended", 终止参保: "terminated" };
const DECISION_LABELS = { match: "同一人", not_match: "非同一人", unsure: "不确定" };
const CONFLICT_LABELS = { match: "合并", not_match: "拆分", unsure: "不确定" };

// Rows of the side-by-side view: label, waterfall field, and how to read the value from a record's fields.
const ROWS = [
  ["姓名 (name)", "name", (f) => f.name ?? f.name_raw],
  ["身份证号 (ID)", "id_number", (f) => f.id_number ?? f.id_number_raw],
  ["出生日期 (birth)", "birth_date", (f) => f.birth_date ?? f.id_birth_date],
  ["性别 (gender)", "gender", (f) => gender(f.gender ?? f.id_gender)],
  ["电话 (phone)", "phone", (f) => f.phones],
  ["地址 (address)", "address", (f) => addresses(f)],
  ["工作单位 (employer)", "employer", (f) => f.employer_name ?? f.employer_credit_code],
  ["来源 (source)", null, (f) => sourceLabel(f.source)],
];

const state = {
  queue: [], total: 0, current: null, detail: null, selectedPair: 0, busy: false,
  explanations: new Map(),   // item id → waterfall, kept for re-opened items (decided pairs lose it)
  log: [],                   // this session's decisions, newest first
  unsure: new Set(),         // items marked unsure in this session (they stay in the queue)
};

const $ = (id) => document.getElementById(id);

class ApiProblem extends Error {
  constructor(status, code, message, fields, requestId) {
    super(message);
    Object.assign(this, { status, code, fields: fields || [], requestId: requestId || "" });
  }
}

// --- the API ------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method, headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiProblem(0, "network", "无法连接服务，请检查 canbao serve 是否在运行 (cannot reach the service)");
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const e = data && data.error;
    throw new ApiProblem(response.status, e ? e.code : "error",
      e ? e.message : `服务返回 HTTP ${response.status} (unexpected answer)`, e && e.fields, e && e.request_id);
  }
  return data;
}

function describe(problem) {
  if (!(problem instanceof ApiProblem)) return `页面出错 (page error): ${problem && problem.message}`;
  const lines = [`${problem.message}${problem.status ? `（HTTP ${problem.status}，${problem.code}）` : ""}`];
  for (const f of problem.fields) lines.push(`· ${f.field}: ${f.message}`);
  if (problem.requestId) lines.push(`请求编号 (request id): ${problem.requestId}`);
  return lines.join("\n");
}

function showError(problem) {
  if (problem instanceof ApiProblem && problem.status === 401) return signOut(problem);
  const box = $("error");
  box.textContent = describe(problem);
  box.hidden = false;
}

function clearError() { $("error").hidden = true; }

// --- sign-in -------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  await start();
}

async function start() {
  $("signin-button").disabled = true;
  try {
    await loadQueue();
  } catch (problem) {
    if (problem instanceof ApiProblem && (problem.status === 401 || problem.status === 403)) {
      signOut(problem);
    } else {
      showError(problem);
    }
    return;
  } finally {
    $("signin-button").disabled = false;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who").textContent = "已登录：数据管理员";
  $("signout").hidden = false;
  clearError();
  openItem(state.queue.length ? state.queue[0].item_id : null);
}

function signOut(problem) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  const message = $("signin-error");
  if (problem instanceof ApiProblem) {
    const why = problem.status === 403
      ? "此令牌不是数据管理员（steward）角色，无权复核。"
      : "令牌无效或已停用，请核对后重新输入。(invalid or inactive token)";
    message.textContent = `${why}\n服务答复：${describe(problem)}`;
    message.hidden = false;
  } else {
    message.hidden = true;
  }
  $("token").focus();
}

// --- the queue -----------------------------------------------------------------------------

async function loadQueue() {
  const data = await api("GET", `/v1/review/queue?limit=${QUEUE_LIMIT}`);
  state.queue = data.items;
  state.total = data.total;
  renderQueue();
}

function names(item) {
  if (item.kind === "conflict") return `${item.name_l || "（无名）"} · 冲突`;
  return `${item.name_l || "（无名）"} ↔ ${item.name_r || "（无名）"}`;
}

function renderQueue() {
  const list = $("queue-list");
  list.replaceChildren();
  for (const item of state.queue) {
    const li = el("li", { "data-item": item.item_id, title: item.item_id });
    li.classList.toggle("current", item.item_id === state.current);
    li.classList.toggle("unsure", state.unsure.has(item.item_id));
    li.append(
      el("span", { class: `impact i${item.impact.score}`, title: "影响分 (impact)" }, String(item.impact.score)),
      el("span", { class: "names" }, names(item)),
      el("span", { class: "prob" }, item.match_probability == null ? "—" : percent(item.match_probability)),
      el("span", { class: "meta" }, queueMeta(item)),
    );
    li.addEventListener("click", () => openItem(item.item_id));
    list.append(li);
  }
  const shown = state.queue.length;
  $("queue-count").textContent = shown < state.total
    ? `共 ${state.total} 条，显示前 ${shown} 条` : `共 ${state.total} 条`;
}

function queueMeta(item) {
  if (item.kind === "conflict") return `身份证号冲突 · 当前 ${statusLabel(item.impact.status_l)}`;
  const change = item.impact.changes_status ? "判为同一人会改变状态" : "不改变状态";
  return `${change} · ${statusLabel(item.impact.status_l)} / ${statusLabel(item.impact.status_r)}`;
}

function position() { return state.queue.findIndex((i) => i.item_id === state.current); }

function step(delta) {
  if (!state.queue.length) return;
  const here = position();
  const next = here < 0 ? 0 : Math.min(Math.max(here + delta, 0), state.queue.length - 1);
  openItem(state.queue[next].item_id);
}

// --- one item ------------------------------------------------------------------------------

async function openItem(itemId) {
  state.current = itemId;
  state.selectedPair = 0;
  state.detail = null;   // no decision acts on the previous item while this one loads
  $("item-body").removeAttribute("data-item");
  $("item-title").textContent = "载入中… (loading)";
  renderQueue();
  if (!itemId) {
    $("item-body").hidden = true;
    $("item-empty").hidden = false;
    return;
  }
  try {
    const detail = await api("GET", `/v1/review/${encodeURIComponent(itemId)}`);
    if (state.current !== itemId) return;   // the steward moved on meanwhile
    if (detail.explanation) state.explanations.set(itemId, detail.explanation);
    state.detail = detail;
    renderItem();
  } catch (problem) {
    showError(problem);
  }
}

function renderItem() {
  const detail = state.detail;
  const item = detail.item;
  $("item-empty").hidden = true;
  $("item-body").hidden = false;
  $("item-body").setAttribute("data-item", item.item_id);
  $("note").value = "";
  const queued = state.queue.find((i) => i.item_id === item.item_id);
  const reason = item.reason || (queued && queued.reason);
  $("item-reason").hidden = !reason;
  $("item-reason").textContent = reason || "";
  const conflict = item.kind === "conflict";
  $("pair-view").hidden = conflict;
  $("conflict-view").hidden = !conflict;
  $("label-match").textContent = conflict ? "合并（同一人）" : "同一人";
  $("label-not-match").textContent = conflict ? "拆分（非同一人）" : "非同一人";
  if (conflict) {
    $("item-title").textContent = `身份证号冲突：${item.name_l || "（无名）"}`;
    $("item-meta").textContent = `人员 ${item.person_id_l} · 影响分 ${item.impact.score}`;
    renderConflict(detail);
  } else {
    const prob = item.match_probability ?? (state.explanations.get(item.item_id) || {}).match_probability;
    $("item-title").textContent = `疑似同一人：${item.name_l || "（无名）"} ↔ ${item.name_r || "（无名）"}`;
    $("item-meta").textContent = `匹配概率 ${prob == null ? "—" : percent(prob)} · 影响分 ${item.impact.score}`;
    renderPair(detail);
  }
  renderOutcome(detail);
  renderSchemes(detail);
  renderPersons(detail);
}

function recordOf(detail, key) {
  for (const person of detail.persons) {
    for (const records of Object.values(person.records_by_source)) {
      const found = records.find((r) => r.record_key === key);
      if (found) return { record: found, person };
    }
  }
  return null;
}

function renderPair(detail) {
  const item = detail.item;
  const left = recordOf(detail, item.record_key_l);
  const right = recordOf(detail, item.record_key_r);
  const explanation = detail.explanation || state.explanations.get(item.item_id) || null;
  const levels = new Map((explanation ? explanation.fields : []).map((s) => [s.field, s]));
  const body = $("compare-body");
  body.replaceChildren();
  for (const [label, field, read] of ROWS) {
    const stepInfo = field ? levels.get(field) : null;
    const cls = field ? levelClass(stepInfo) : "neutral";
    const value = (side) => (side ? read(side.record.fields) : null);
    const cell = (text) => el("td", { class: `value ${cls}` }, text == null || text === "" ? "（空）" : String(text));
    body.append(el("tr", { "data-field": field || "source" },
      el("td", {}, label),
      cell(value(left)),
      cell(value(right)),
      el("td", { class: cls }, el("span", { class: "level" },
        field ? (stepInfo ? levelLabel(stepInfo.level) : "（无比对）") : "—")),
    ));
  }
  body.append(el("tr", {},
    el("td", {}, "记录 (record)"),
    el("td", { class: "value small" }, item.record_key_l),
    el("td", { class: "value small" }, item.record_key_r),
    el("td", {}, "")));
  renderWaterfall(explanation);
}

function renderWaterfall(explanation) {
  const body = $("waterfall-body");
  body.replaceChildren();
  if (!explanation) {
    body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "此记录对已判定，服务不再给出匹配权重。")));
    return;
  }
  const rows = [{ name: "先验 (prior)", level: "", weight: explanation.prior_weight }].concat(
    explanation.fields.map((s) => ({
      name: FIELD_LABELS[s.field] || s.field, level: s.level, weight: s.weight, m: s.m, u: s.u,
    })));
  const scale = Math.max(...rows.map((r) => Math.abs(r.weight)), Math.abs(explanation.match_weight), 1);
  for (const r of rows) {
    body.append(el("tr", {},
      el("td", {}, r.name),
      el("td", { class: r.level ? LEVEL_CLASS[r.level] || "" : "" }, r.level ? levelLabel(r.level) : "—"),
      el("td", { class: "num" }, r.m == null ? "" : r.m.toPrecision(3)),
      el("td", { class: "num" }, r.u == null ? "" : r.u.toPrecision(3)),
      el("td", { class: "num" }, signed(r.weight)),
      el("td", { class: "bar-cell" }, bar(r.weight, scale))));
  }
  body.append(el("tr", { class: "total" },
    el("td", { colspan: "4" }, `= 匹配权重 (match weight) → 概率 ${percent(explanation.match_probability)}`),
    el("td", { class: "num" }, signed(explanation.match_weight)),
    el("td", { class: "bar-cell" }, bar(explanation.match_weight, scale))));
}

function bar(weight, scale) {
  const track = el("div", { class: "bar-track" });
  const b = el("div", { class: `bar ${weight >= 0 ? "pos" : "neg"}` });
  b.style.width = `${(Math.abs(weight) / scale) * 50}%`;
  track.append(b);
  return track;
}

function renderConflict(detail) {
  const person = detail.persons[0];
  const groups = new Map();
  if (person) {
    for (const records of Object.values(person.records_by_source)) {
      for (const r of records) {
        const id = r.fields.id_number || r.fields.id_number_raw || "（无身份证号）";
        if (!groups.has(id)) groups.set(id, []);
        groups.get(id).push(r);
      }
    }
  }
  const box = $("conflict-groups");
  box.replaceChildren();
  for (const [id, records] of groups) {
    box.append(el("div", { class: "group" },
      el("h4", {}, `身份证号 ${id}（${records.length} 条）`),
      el("ul", {}, ...records.map((r) => el("li", {}, recordLine(r))))));
  }
  const body = $("pairs-body");
  body.replaceChildren();
  const pairs = detail.suggested_pairs || [];
  if (!pairs.length) {
    body.append(el("tr", {}, el("td", { colspan: "4", class: "muted" }, "没有可判定的记录对。")));
  }
  pairs.forEach(([a, b], index) => {
    const pick = el("input", { type: "radio", name: "pair", value: String(index), "aria-label": `选择第 ${index + 1} 对` });
    pick.checked = index === state.selectedPair;
    pick.addEventListener("change", () => {
      state.selectedPair = index;
      renderConflict(state.detail);
      renderOutcome(state.detail);
    });
    const split = el("button", { type: "button", class: "split", "data-action": "split" }, "拆分");
    const merge = el("button", { type: "button", class: "merge", "data-action": "merge" }, "合并");
    split.addEventListener("click", () => decide("not_match", index));
    merge.addEventListener("click", () => decide("match", index));
    body.append(el("tr", { class: index === state.selectedPair ? "selected" : "" },
      el("td", {}, pick), el("td", {}, describeKey(detail, a)), el("td", {}, describeKey(detail, b)),
      el("td", {}, split, " ", merge)));
  });
}

function describeKey(detail, key) {
  const found = recordOf(detail, key);
  return found ? recordLine(found.record) : `${key}（属于其他人员）`;
}

function recordLine(r) {
  const f = r.fields;
  const parts = [sourceLabel(r.source), f.name, f.id_number || f.id_number_raw, f.birth_date || f.id_birth_date,
    f.residence_address_raw || f.household_address_raw];
  return parts.filter(Boolean).join(" · ") + `（${r.record_key}）`;
}

function renderOutcome(detail) {
  const item = detail.item;
  const body = $("outcome-body");
  body.replaceChildren();
  const row = (choice, cls, ...content) =>
    body.append(el("tr", {}, el("th", { class: cls }, choice), el("td", {}, ...content)));
  const [pl, pr] = [personOf(detail, item.person_id_l), personOf(detail, item.person_id_r)];
  const current = (p, code) => statusChip(p ? p.person.status.status : code, p ? p.person.status.label : null);
  if (item.kind === "conflict") {
    row("当前", "", current(pl, item.impact.status_l), flagsText(pl));
    if (!(detail.suggested_pairs || []).length) {
      row("判定", "", "没有可判定的记录对：该人员已无冲突，或其记录已合并入其他人员。按 J 看下一条。");
      return;
    }
    const pair = (detail.suggested_pairs || [])[state.selectedPair] || [];
    const inside = pair.length === 2 && pair.every((key) => recordOf(detail, key));
    if (inside) {
      row("合并 (M)", "", "确认所选两条记录为同一人：仍为一人，状态保持 ", current(pl, item.impact.status_l));
    } else {
      row("合并 (M)", "", "所选记录 B 属于另一人员：两人合并为一人，合并后的状态由服务立即计算，决定后显示在“决定记录”中。");
    }
    row("拆分 (N)", "", inside
      ? "所选两条记录分为两人，各自状态由服务立即重算，决定后显示在“决定记录”中（拆分前无法预知）。"
      : "两条记录本已分属两人：保持分开，并记下今后不得关联；状态不变。");
    row("不确定 (U)", "", "只记录判定，不改变任何人员和状态；条目留在队列。");
    return;
  }
  const same = item.person_id_l && item.person_id_l === item.person_id_r;
  row("当前", "", "左 ", current(pl, item.impact.status_l), "　右 ", current(pr, item.impact.status_r),
    same ? "（两条记录目前已属同一人员）" : "");
  const merged = item.impact.merged_status;
  const changes = merged && (merged !== item.impact.status_l || merged !== item.impact.status_r);
  row("同一人 (M)", "", "合并为一人，状态 ", statusChip(merged, null),
    el("span", { class: changes ? "change" : "muted" }, changes ? "　← 状态会改变" : "　（状态不变）"));
  row("非同一人 (N)", "", same
    ? "两条记录拆分为两人，各自状态由服务重算，决定后显示。"
    : el("span", {}, "保持两人：左 ", statusChip(item.impact.status_l, null), "　右 ",
      statusChip(item.impact.status_r, null), "（不变，今后不会自动关联）"));
  row("不确定 (U)", "", "只记录判定，不改变任何状态；条目留在队列，模型在以后的运行中照常判断。");
}

function personOf(detail, personId) {
  return detail.persons.find((p) => p.person.person_id === personId) || null;
}

function flagsText(p) {
  return p && p.person.status.flag_labels.length ? `　标记：${p.person.status.flag_labels.join("、")}` : "";
}

// Each person's schemes (GET /v1/review/{item} → persons[].schemes): scheme, state, first enrolment, last paid month.
function renderSchemes(detail) {
  const box = $("schemes-body");
  box.replaceChildren();
  const item = detail.item;
  for (const p of detail.persons) {
    const person = p.person;
    const sides = [];
    if (person.person_id === item.person_id_l) sides.push(item.kind === "conflict" ? "冲突人员" : "左侧");
    if (person.person_id === item.person_id_r) sides.push("右侧");
    const panel = el("div", { class: "person-panel", "data-person": person.person_id });
    panel.append(el("h4", {}, sides.length ? `${sides.join("、")} · ` : "",
      `人员 ${person.person_id}：${person.name || "（无名）"} `, statusChip(person.status.status, person.status.label)));
    const schemes = p.schemes || [];
    if (!schemes.length) {
      panel.append(el("p", { class: "muted small" }, "无社会保险参保记录 (no si_enrolment record)"));
    } else {
      const tbody = el("tbody");
      for (const s of schemes) {
        tbody.append(el("tr", { "data-record": s.record_key },
          el("td", {}, s.scheme),
          el("td", {}, el("span", { class: `scheme-state ${SCHEME_STATE_CLASS[s.state] || ""}` }, s.state)),
          el("td", { class: "num" }, s.first_enrolment || "—"),
          el("td", { class: "num" }, paidMonth(s.last_paid))));
      }
      panel.append(el("table", { class: "schemes" }, el("thead", {}, el("tr", {},
        el("th", {}, "险种"), el("th", {}, "参保状态"), el("th", {}, "首次参保"), el("th", {}, "最近缴费月份"))), tbody));
    }
    box.append(panel);
  }
}

// YYYYMM as YYYY-MM; anything else (an unreadable month) as it stands.
function paidMonth(text) {
  if (!text) return "—";
  return /^\d{6}$/.test(text) ? `${text.slice(0, 4)}-${text.slice(4)}` : text;
}

function renderPersons(detail) {
  const box = $("persons-body");
  box.replaceChildren();
  for (const p of detail.persons) {
    const person = p.person;
    const place = [person.place.district_name, person.place.street, person.place.community].filter(Boolean).join("");
    box.append(el("h4", {}, `人员 ${person.person_id}：${person.name || "（无名）"} · `,
      statusChip(person.status.status, person.status.label), place ? ` · ${place}` : "", flagsText(p)));
    const table = el("table", {}, el("thead", {}, el("tr", {},
      el("th", {}, "来源"), el("th", {}, "记录"), el("th", {}, "关联方式"), el("th", {}, "内容"))));
    const tbody = el("tbody");
    for (const [source, records] of Object.entries(p.records_by_source)) {
      for (const r of records) {
        tbody.append(el("tr", {}, el("td", {}, sourceLabel(source)), el("td", {}, r.record_id),
          el("td", {}, r.method || ""), el("td", {}, recordLine(r))));
      }
    }
    table.append(tbody);
    box.append(table);
  }
}

// --- decisions -----------------------------------------------------------------------------

async function decide(decision, pairIndex) {
  const detail = state.detail;
  if (!detail || state.busy || detail.item.item_id !== state.current) return;
  const item = detail.item;
  const body = { decision, note: $("note").value.trim() };
  let keys = [item.record_key_l, item.record_key_r];
  // Were the two records one person before this decision? Undo restores that (see undoDecision).
  let together = Boolean(item.person_id_l) && item.person_id_l === item.person_id_r;
  if (item.kind === "conflict") {
    const pair = (detail.suggested_pairs || [])[pairIndex ?? state.selectedPair];
    if (!pair) return showError(new ApiProblem(0, "no_pair", "此冲突没有可判定的记录对 (no pair to decide on)"));
    keys = pair;
    together = pair.every((key) => recordOf(detail, key));
    [body.record_key_l, body.record_key_r] = pair;
  }
  await post({ item_id: item.item_id, kind: item.kind, title: names(item), together }, keys, body, null);
}

// target: {item_id, kind, title, together}; undoing: the log entry this decision takes back (or null).
async function post(target, keys, body, undoing) {
  state.busy = true;
  setButtons(true);
  try {
    const out = await api("POST", `/v1/review/${encodeURIComponent(target.item_id)}/decision`, body);
    clearError();
    const entry = {
      item_id: target.item_id, kind: target.kind, title: target.title, together: target.together,
      decision: body.decision, note: body.note, keys,
      at: new Date(), changes: out.status_changes || [], undone: false, undoOf: undoing,
    };
    state.log.unshift(entry);
    if (undoing) {
      undoing.undone = true;
      state.unsure.delete(undoing.item_id);
    }
    renderLog();
    if (undoing) {
      await loadQueue();
      await openItem(target.item_id);   // re-opened so it can be decided again at once
    } else {
      advance(target.item_id, body.decision);
    }
  } catch (problem) {
    showError(problem);
  } finally {
    state.busy = false;
    setButtons(false);
  }
}

// After a decision the next item opens at once; the queue is then re-read (a merge may settle others).
function advance(itemId, decision) {
  const here = state.queue.findIndex((i) => i.item_id === itemId);
  let next = null;
  if (decision === "unsure") {
    state.unsure.add(itemId);
    next = here >= 0 && here + 1 < state.queue.length ? state.queue[here + 1].item_id : null;
  } else if (here >= 0) {
    state.queue.splice(here, 1);
    state.total = Math.max(state.total - 1, 0);
    next = state.queue.length ? state.queue[Math.min(here, state.queue.length - 1)].item_id : null;
  }
  openItem(next);
  loadQueue().then(() => {
    if (state.current && !state.queue.some((i) => i.item_id === state.current)) {
      openItem(state.queue.length ? state.queue[0].item_id : null);
    }
  }).catch(showError);
}

// Undo posts the decision that restores the grouping before ``entry``: a match that joined two persons is
// undone by not_match (split again), a not_match that split one person by match (joined again); a decision
// that changed no grouping, and unsure, by unsure (the latest decision wins and unsure constrains nothing).
function undoDecision(entry) {
  if (entry.decision === "match" && !entry.together) return "not_match";
  if (entry.decision === "not_match" && entry.together) return "match";
  return "unsure";
}

async function undo(entry) {
  if (entry.undone || state.busy) return;
  const body = { decision: undoDecision(entry), note: "撤销" };
  if (entry.kind === "conflict") [body.record_key_l, body.record_key_r] = entry.keys;
  await post({ item_id: entry.item_id, kind: entry.kind, title: entry.title, together: !entry.together },
    entry.keys, body, entry);
}

function renderLog() {
  const list = $("log-list");
  list.replaceChildren();
  $("log-empty").hidden = state.log.length > 0;
  for (const entry of state.log) {
    const labels = entry.kind === "conflict" ? CONFLICT_LABELS : DECISION_LABELS;
    const li = el("li", { class: entry.undone ? "undone" : "", "data-item": entry.item_id });
    li.append(el("div", { class: "what" }, entry.undoOf
      ? `撤销（提交“${labels[entry.decision]}”）：${entry.title}` : `${labels[entry.decision]}：${entry.title}`));
    const time = entry.at.toLocaleTimeString("zh-CN", { hour12: false });
    li.append(el("div", { class: "muted small" }, `${time}${entry.note ? ` · 说明：${entry.note}` : ""}`));
    if (entry.changes.length) {
      li.append(el("div", { class: "changes-list" }, entry.changes.map((c) =>
        `${c.person_id}: ${statusLabel(c.before)} → ${statusLabel(c.after)}`).join("；")));
    } else {
      li.append(el("div", { class: "changes-list" }, "状态无变化"));
    }
    if (entry.undoOf) {
      const then = entry.undoOf.at.toLocaleTimeString("zh-CN", { hour12: false });
      li.append(el("div", { class: "muted small" }, `撤销的是 ${then} 的“${labels[entry.undoOf.decision]}”`));
    } else if (entry.undone) {
      li.append(el("div", { class: "muted small" }, "已撤销"));
    } else {
      const button = el("button", { type: "button", class: "quiet", title: "提交相反的判定（说明为“撤销”）" },
        `撤销（提交“${(entry.kind === "conflict" ? CONFLICT_LABELS : DECISION_LABELS)[undoDecision(entry)]}”）`);
      button.addEventListener("click", () => undo(entry));
      li.append(button);
    }
    list.append(li);
  }
}

function setButtons(disabled) {
  for (const id of ["btn-match", "btn-not-match", "btn-unsure"]) $(id).disabled = disabled;
}

// --- keyboard ------------------------------------------------------------------------------

function onKey(event) {
  const target = event.target;
  const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA");
  if (target && target.id === "note") {
    if (event.key === "Enter") event.preventDefault();   // Enter in the note never submits
    if (event.key === "Escape") target.blur();
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || $("app").hidden) return;
  const key = event.key.toLowerCase();
  const actions = {
    m: () => decide("match"), n: () => decide("not_match"), u: () => decide("unsure"),
    j: () => step(1), k: () => step(-1),
  };
  if (actions[key]) {
    event.preventDefault();
    actions[key]();
  }
}

// --- small helpers -------------------------------------------------------------------------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  for (const child of children) {
    if (child == null || child === "") continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function levelClass(stepInfo) {
  if (!stepInfo) return "missing";
  if (LEVEL_CLASS[stepInfo.level]) return LEVEL_CLASS[stepInfo.level];
  return stepInfo.weight > 1 ? "agree" : stepInfo.weight < 0 ? "disagree" : "partial";
}
function levelLabel(level) { return LEVEL_LABELS[level] ? `${LEVEL_LABELS[level]} (${level})` : level; }
function statusLabel(code) { return code ? STATUS_LABELS[code] || code : "—"; }
function statusChip(code, label) {
  return el("span", { class: `status ${code || ""}` }, label || statusLabel(code));
}
function sourceLabel(source) { return SOURCE_LABELS[source] ? `${SOURCE_LABELS[source]} (${source})` : source || ""; }
function gender(code) { return { M: "男", F: "女" }[code] || code; }
function addresses(f) {
  const parts = [];
  if (f.household_address_raw) parts.push(`户籍：${f.household_address_raw}`);
  if (f.residence_address_raw) parts.push(`常住：${f.residence_address_raw}`);
  return parts.join("；") || null;
}
function percent(p) {
  const text = (p * 100).toFixed(1);
  if (p < 1 && text === "100.0") return ">99.9%";
  if (p > 0 && text === "0.0") return "<0.1%";
  return `${text}%`;
}
function signed(x) { return `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(2)}`; }

// --- start ---------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut(null));
  $("refresh").addEventListener("click", () => loadQueue().catch(showError));
  $("btn-match").addEventListener("click", () => decide("match"));
  $("btn-not-match").addEventListener("click", () => decide("not_match"));
  $("btn-unsure").addEventListener("click", () => decide("unsure"));
  document.addEventListener("keydown", onKey);
  if (sessionStorage.getItem(TOKEN_KEY)) start();
  else $("token").focus();
});
