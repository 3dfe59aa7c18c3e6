"""Tables. Money is stored in fen (分, integer) so sums are exact.

Constraints carry the exactly-once promises (and CHECK constraints keep every
amount finite, non-negative and under ``matcher.amounts.MAX_AMOUNT_FEN``):
- ``benefits``: one row per (enterprise, policy, entitlement period) — a
  benefit is granted at most once, whatever crashes or reruns happen;
- ``decisions``: one row per (run, enterprise, policy);
- ``notices``: one per (enterprise, policy, period, kind, topic), so a rerun
  or a later run that reaches the same decision does not notify again, while a
  later run that changes the amount announced does (topic: the amount).

The bulk tables (decisions, benefits, notices) carry ``run_id`` without a
foreign key: only the run writes them, right after creating its ``runs`` row,
and a per-row foreign-key check would cost as much as the insert itself at
millions of rows. Notices store what they announce, not their text: the text
is rendered from the notice and its decision (``matcher.notices``), zh and en.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from matcher.amounts import amount_check

__all__ = [
    "PERIOD_KEY_LENGTH",
    "RESPONSE_KINDS",
    "api_tokens",
    "audit_log",
    "benefit_journal",
    "benefits",
    "decisions",
    "metadata",
    "notices",
    "policy_drafts",
    "policy_versions",
    "responses",
    "run_requests",
    "runs",
    "webhooks",
]

# Every period_key column (migration 0020): 'cert:' and a certificate number of up to 59 characters (matcher.periods).
PERIOD_KEY_LENGTH = 64

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(32), primary_key=True, comment="hash of as_of, registry and catalogue fingerprints"),
    Column("as_of", Date, nullable=False),
    Column("registry_fingerprint", String(64), nullable=False),
    Column("catalogue_fingerprint", String(64), nullable=False),
    Column("policy_versions", JSON, nullable=False),
    Column("model_version", String(64)),
    Column("status", String(16), nullable=False, comment="running | completed"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("counts", JSON),
    Column("timings", JSON),
    Column("budgets", JSON, comment="per policy: budget, remaining, demanded, scale applied"),
    Column("amount_errors", JSON, comment="per policy: enterprises whose amount cannot be paid, and why"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, comment="runs.id"),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("status", String(24), nullable=False),
    Column("amount_fen", BigInteger, comment="after budget scaling"),
    Column("amount_full_fen", BigInteger, comment="before budget scaling"),
    Column("facts", Text, nullable=False, comment="JSON of the facts the policy read: the decision's evidence"),
    Column("unknown_facts", Text, comment="'; '-separated facts to ask for (needs_data)"),
    Column("failing", Text, comment="conditions not met, with their gap, in English (near_miss)"),
    Column("failing_zh", Text, comment="the same in Chinese"),
    Column("rank", Float, comment="ranker score, when a model orders the notices"),
    Column("position", Integer, comment="place in the enterprise's push order of its run, 1 = first"),
    # uscc first: the index also serves an enterprise's decisions across runs.
    UniqueConstraint("uscc", "run_id", "policy_id"),
    # Did a later run decide this policy and period at all (a decision no longer matched): migration 0019.
    Index(None, "policy_id", "period_key", "run_id"),
    CheckConstraint(amount_check("amount_fen"), name="amount_fen"),
    CheckConstraint(amount_check("amount_full_fen"), name="amount_full_fen"),
)

benefits = Table(
    "benefits",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("amount_fen", BigInteger, nullable=False, comment="owed: the sum of the journal's amount changes"),
    Column(
        "paid_fen",
        BigInteger,
        nullable=False,
        server_default="0",
        comment="paid so far: the sum of the journal's payments",
    ),
    Column("status", String(16), nullable=False, comment="matcher.ledger.statuses.BenefitStatus"),
    Column("run_id", String(32), nullable=False, comment="runs.id"),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("uscc", "policy_id", "period_key"),
    CheckConstraint(amount_check("amount_fen"), name="amount_fen"),
    CheckConstraint(amount_check("paid_fen"), name="paid_fen"),
)

# The ledger's journal: one row per change of a benefit, never updated or deleted (matcher/ledger).
# Unique per (benefit, entry, ref): a change repeated by a rerun or a retried request lands once.
benefit_journal = Table(
    "benefit_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("entry", String(24), nullable=False, comment="matcher.ledger.statuses.JournalEntry"),
    Column("status_before", String(16), comment="null when the entry creates the benefit"),
    Column("status_after", String(16), nullable=False),
    Column("amount_before_fen", BigInteger, nullable=False),
    Column("amount_after_fen", BigInteger, nullable=False),
    Column("paid_fen", BigInteger, nullable=False, comment="money moved by this entry: + paid, - recovered"),
    Column("actor", String(120), nullable=False, comment="who: run:<id>, enterprise:<uscc>#n, officer:<name>#n"),
    Column("reason", Text, nullable=False, comment="why, in the actor's words or the rule's"),
    Column("ref", String(64), nullable=False, comment="what caused it: a run, a response, a review, a batch"),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("uscc", "policy_id", "period_key", "entry", "ref"),
    CheckConstraint(amount_check("amount_after_fen"), name="amount_after_fen"),
)

notices = Table(
    "notices",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("kind", String(24), nullable=False, comment="the decision status it announces"),
    Column("run_id", String(32), nullable=False, comment="runs.id"),
    Column("amount_fen", BigInteger),
    Column("respond_by", Date, comment="objection or confirmation deadline"),
    # The outbox: delivery state lives with the notice, written in the same transaction.
    Column("delivery_status", String(16), nullable=False, comment="pending | delivered | dead | held | withdrawn"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(
        "topic",
        String(40),
        nullable=False,
        server_default="",
        comment="what sets it apart from another notice of its kind: the amount announced, a batch, a reminder",
    ),
    # The idempotency key sent with the notice is these five joined by ':' (matcher.notices.idempotency_key).
    UniqueConstraint("uscc", "policy_id", "period_key", "kind", "topic"),
    CheckConstraint(amount_check("amount_fen"), name="amount_fen"),
    Index(None, "delivery_status", "next_attempt_at"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("uscc", String(18), primary_key=True),
    Column("url", Text, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("action", String(80), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("detail", JSON),
    Column("request_id", String(64), comment="X-Request-ID of the HTTP request that wrote it"),
)

# What an enterprise did with a notice: the ranker's relevance labels and the service's actions.
RESPONSE_KINDS = ("opened", "confirmed", "supplied_data", "declined", "objected", "ignored")

responses = Table(
    "responses",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("notice_id", BigInteger, ForeignKey("notices.id"), nullable=False),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column(
        "kind", String(24), nullable=False, comment="opened | confirmed | supplied_data | declined | objected | ignored"
    ),
    Column("detail", JSON, comment="objection reason, or the supplied fact and value"),
    Column("actor", String(80), nullable=False, comment="who acted: the enterprise's token, or 'simulator'"),
    Column("at", DateTime(timezone=True), nullable=False),
    Index(None, "uscc", "policy_id"),
    Index(None, "notice_id"),
)

# The ranker's view of each decision of a run (matcher/ranking): its features as known when the run ran
# (point in time, so training sees what serving saw), its score, and where it stood in the push order.
# Stored as Parquet pieces (matcher.ranking.parts), not one row per pair: a run ranks millions of pairs and a
# row costs ~15 µs to insert, a piece of 50,000 pairs a few milliseconds.
rank_feature_parts = Table(
    "rank_feature_parts",
    metadata,
    # No foreign key to runs: a bulk table like decisions.
    Column("run_id", String(32), primary_key=True, comment="runs.id"),
    Column("part", Integer, primary_key=True, comment="the run's partition of enterprises (0: unpartitioned)"),
    Column("piece", Integer, primary_key=True, comment="0, 1, … within the part, in USCC order"),
    Column("first_uscc", String(18), nullable=False, comment="the piece's pairs span first_uscc … last_uscc"),
    Column("last_uscc", String(18), nullable=False),
    Column("feature_set", String(16), nullable=False, comment="version of the feature list the values follow"),
    Column("pairs", Integer, nullable=False, comment="rows in the piece"),
    Column(
        "parquet",
        LargeBinary,
        nullable=False,
        comment="zstd Parquet sorted by uscc, policy_id: uscc, policy_id, the features, score, position, wave, holdout",
    ),
    # One enterprise's pieces of a run: run_id, then a range probe on last_uscc (first_uscc filters the rest).
    Index(None, "run_id", "last_uscc"),
)

# The service (api/service): bearer tokens, policy drafts and published versions, runs started over HTTP.

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True, comment="sha256 of the token; never the token"),
    Column("prefix", String(12), nullable=False, comment="the token's first characters, to recognise it"),
    Column("role", String(16), nullable=False, comment="enterprise | officer | analyst | admin"),
    Column("uscc", String(18), comment="the one enterprise an enterprise token acts for"),
    Column("name", String(80), nullable=False, comment="who holds it, for the audit log"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

policy_drafts = Table(
    "policy_drafts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(80), comment="read from the text when it parses"),
    Column("version", Integer, comment="read from the text when it parses"),
    Column("source", Text, nullable=False, comment="the policy text as the officer wrote it"),
    Column("format", String(8), nullable=False, comment="yaml | json"),
    Column("created_by", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(80), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), comment="set once published; a published draft is frozen"),
    # Maker-checker (api/service/review.py): a draft is published only after a different person approved it.
    Column("kind", String(12), nullable=False, server_default="version", comment="version | withdrawal"),
    Column(
        "review_state",
        String(12),
        nullable=False,
        server_default="draft",
        comment="draft | submitted | approved | returned | published",
    ),
    Column("revision", Integer, nullable=False, server_default="1", comment="+1 on every change of the text"),
    Column("editor", String(80), comment="the person (token holder's name) who last changed the text"),
    Column("effective_from", Date, comment="the date under review: in force from (withdrawal: out of force from)"),
    Column("review_set", String(200), comment="ids of drafts reviewed and published together, '12,13'"),
    Column("submitted_by", String(80)),
    Column("submitter", String(80), comment="the person who submitted"),
    Column("submitted_at", DateTime(timezone=True)),
    Column("reviewed_by", String(80), comment="who approved or returned it"),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("review_comment", Text),
    Column("published_by", String(80)),
)

# Versions published through the service. With the repository's policies/catalogue/ they make the published
# catalogue: a row replaces the repository file of the same (policy_id, version) — that is how an older
# version is closed (its effective.to set) when a newer one takes over.
policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy_id", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False, comment="the policy file text in force"),
    Column("effective_from", Date, nullable=False),
    Column("effective_to", Date),
    Column("draft_id", Integer, ForeignKey("policy_drafts.id"), comment="null: a closed repository version"),
    Column("published_by", String(80), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("policy_id", "version"),
)

# An officer's verdict on an objection (api/service/objections.py): at most one per objection.
objection_reviews = Table(
    "objection_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "response_id",
        BigInteger,
        ForeignKey("responses.id"),
        nullable=False,
        unique=True,
        comment="the objection (responses.kind = objected)",
    ),
    Column(
        "outcome",
        String(16),
        nullable=False,
        comment="dismissed (the decision stands: payout released) | upheld (the decision was wrong: cancelled)",
    ),
    Column("note", Text, nullable=False, comment="the officer's reasons, shown to the enterprise"),
    Column("reviewed_by", String(80), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
)

WORKER = "the service worker process that owns it, host:pid; recovery fails only what a dead worker left"
run_requests = Table(
    "run_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("as_of", Date, nullable=False),
    Column("status", String(16), nullable=False, comment="queued | running | completed | failed"),
    Column("stage", String(80), comment="the stage the run is in"),
    Column("run_id", String(32), comment="the matching run, once known"),
    Column("outcome", String(16), comment="completed | unchanged"),
    Column("summary", JSON),
    Column("error", Text),
    Column("requested_by", String(80), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("worker", String(80), comment=WORKER),
    Column(
        "running",
        Integer,
        index=True,
        unique=True,
        comment="1 while running, null otherwise: the unique index lets one run go at a time",
    ),
)

# Training jobs started over HTTP (api/service/trainer.py): one at a time, followed like run requests.
training_jobs = Table(
    "training_jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False, comment="queued | running | completed | failed"),
    Column(
        "active",
        Integer,
        unique=True,
        comment="1 while queued or running, null once finished: the unique key lets one job run at a time",
    ),
    Column("params", JSON, nullable=False, comment="what the job was asked: holdout_share, seed"),
    Column("requested_by", String(80), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("result", JSON, comment="metrics side by side, the version registered, promoted or not and why"),
    Column("error", Text, comment="why it failed, e.g. no feedback yet"),
    Column("worker", String(80), comment=WORKER),
)
__all__ += ["objection_reviews", "training_jobs"]

# Payouts (matcher/payouts): batches of payable cash benefits, one item per benefit, the bank's answers, and the
# accounts enterprises corrected. Items and returns are bulk tables (a million rows a batch): no foreign keys.
BATCH_STATUSES = ("preparing", "prepared", "approved", "exported", "reconciled", "withdrawn")
payment_batches = Table(
    "payment_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False, comment="preparing → prepared → approved → exported → reconciled"),
    Column("as_of", Date, nullable=False, comment="the day payability was judged"),
    Column(
        "preparing",
        Integer,
        unique=True,
        comment="1 while being prepared, null after: the unique key lets one prepare run at a time",
    ),
    Column("prepared_by", String(80), nullable=False, comment="actor (audit form)"),
    Column("preparer", String(80), nullable=False, comment="the person who prepared it (maker)"),
    Column("prepared_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(80)),
    Column("approver", String(80), comment="the person who approved it (checker): never the maker"),
    Column("approved_at", DateTime(timezone=True)),
    Column("exported_by", String(80)),
    Column("exported_at", DateTime(timezone=True)),
    Column("file_sha256", String(64), comment="SHA-256 of the payment file as exported (every export is the same)"),
    Column("reconciled_by", String(80)),
    Column("reconciled_at", DateTime(timezone=True)),
    Column("return_sha256", String(64), comment="SHA-256 of the bank's return file being or already reconciled"),
    Column("withdrawn_by", String(80)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("withdrawn_reason", Text),
    Column("item_count", Integer, nullable=False, server_default="0"),
    Column("total_fen", BigInteger, nullable=False, server_default="0"),
    Column("paid_count", Integer),
    Column("paid_fen", BigInteger),
    Column("failed_count", Integer),
    Column("failed_fen", BigInteger),
    Column("summary", JSON, comment="what prepare found: made payable, batched, waiting for an account"),
    CheckConstraint(f"status IN {BATCH_STATUSES}", name="status"),
    CheckConstraint("approver IS NULL OR approver <> preparer", name="maker_checker"),
    CheckConstraint("total_fen >= 0", name="total_fen"),
)

_OPEN = text("open = 1")
payment_items = Table(
    "payment_items",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("batch_id", Integer, nullable=False, comment="payment_batches.id"),
    Column("line", Integer, nullable=False, comment="1, 2, ...: its place in the payment file"),
    Column("reference", String(35), nullable=False, comment="end-to-end reference in the files: HQ<batch>-<line>"),
    Column("benefit_id", BigInteger, nullable=False, comment="benefits.id"),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("amount_fen", BigInteger, nullable=False, comment="what is transferred: the amount outstanding"),
    Column("bank_code", String(12), nullable=False, comment="CNAPS bank code (12 digits) of the payee's branch"),
    Column("account_no", String(40), nullable=False),
    Column("account_name", String(200), nullable=False),
    Column("account_source", String(40), nullable=False, comment="registry | correction:<id>"),
    Column("outcome", String(16), comment="null while open | paid | failed | withdrawn"),
    Column("reason_code", String(8), comment="the bank's reason for a failure (ISO 20022 code)"),
    Column("reason", Text),
    Column(
        "open",
        Integer,
        comment="1 while its batch is open, null once settled or withdrawn: with the unique key below, a benefit"
        " is in at most one open batch",
    ),
    UniqueConstraint("batch_id", "line"),
    CheckConstraint("reference = 'HQ' || batch_id || '-' || line", name="reference"),  # unique as (batch, line)
    CheckConstraint("amount_fen > 0 AND " + amount_check("amount_fen"), name="amount_fen"),
    # No index on (batch_id, benefit_id): one entry fewer per item written and settled (migration 0023).
    # Partial, so that settling an item leaves it (migration 0021): a benefit is in at most one open batch.
    Index(None, "uscc", "policy_id", "period_key", unique=True, postgresql_where=_OPEN, sqlite_where=_OPEN),
)

# The bank's return lines, kept as read: what each reconciliation was based on.
payment_returns = Table(
    "payment_returns",
    metadata,
    Column("batch_id", Integer, primary_key=True, comment="payment_batches.id"),
    Column("reference", String(35), primary_key=True),
    Column("line", Integer, nullable=False, comment="its line in the return file"),
    Column("status", String(8), nullable=False, comment="paid | failed"),
    Column("amount_fen", BigInteger, nullable=False),
    Column("reason_code", String(8)),
    Column("reason", Text),
)

# Accounts given by enterprises (PUT /enterprises/{uscc}/account): the latest wins over the registry's.
account_corrections = Table(
    "account_corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False, index=True),
    Column("bank_code", String(12), nullable=False),
    Column("account_no", String(40), nullable=False),
    Column("account_name", String(200), nullable=False),
    Column("given_by", String(80), nullable=False, comment="the enterprise's token (actor)"),
    Column("given_at", DateTime(timezone=True), nullable=False),
)
__all__ += ["BATCH_STATUSES", "account_corrections", "payment_batches", "payment_items", "payment_returns"]

# What a later run found about a benefit already in the ledger that only an officer may act on
# (matcher/ledger/review.py): a paid benefit the rules no longer grant (recover), an unpaid one (cancel), a
# paid one now owed more (top_up). Never applied silently; accepted or dismissed once, with who and why.
ledger_proposals = Table(
    "ledger_proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False),
    Column("action", String(16), nullable=False, comment="recover | cancel | top_up (matcher.ledger.corrections)"),
    Column("amount_fen", BigInteger, comment="top_up: the increase; null otherwise"),
    Column("run_id", String(32), nullable=False, comment="the run whose data found it"),
    Column("reason", Text, nullable=False, comment="what the run found, in English"),
    Column("reason_zh", Text, nullable=False),
    Column("status", String(12), nullable=False, comment="open | accepted | dismissed"),
    Column("decided_by", String(80)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", Text, comment="the officer's reasons"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("uscc", "policy_id", "period_key", "action", "run_id"),
    CheckConstraint(amount_check("amount_fen"), name="amount_fen"),
    Index(None, "status"),
)
__all__ += ["ledger_proposals"]

# Facts the registries lack or do not know, supplied by an enterprise for a notice (POST .../supply) or attested
# by an officer or another department (`huiqi supplied-facts attest`), with provenance: who, when, on what
# evidence, for which notice. An enterprise's supply waits for an officer (open → accepted | rejected, once, with a
# reason); an accepted one enters the next run's profiles (features/profiles/attested.py) — for a fact a registry
# also holds, only while the registry has no value, unless the officer let it override the registry. A later
# accepted value of the same fact replaces it (superseded), as does the enterprise's own correction while open.
SUPPLIED_FACT_STATUSES = ("open", "accepted", "rejected", "superseded")

supplied_facts = Table(
    "supplied_facts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uscc", String(18), nullable=False),
    Column("fact", String(60), nullable=False, comment="a fact of the catalogue (docs/facts.md)"),
    Column("value", JSON, nullable=False, comment="the value as JSON: true/false, a number, a word, a date YYYY-MM-DD"),
    Column("source", String(12), nullable=False, comment="enterprise | officer | department"),
    Column("supplied_by", String(80), nullable=False, comment="the actor who supplied or attested it"),
    Column("supplied_at", DateTime(timezone=True), nullable=False),
    Column("evidence", Text, comment="what it rests on: the enterprise's note, a document's reference"),
    Column("notice_id", BigInteger, ForeignKey("notices.id"), comment="the notice that asked for it, if any"),
    Column("policy_id", String(80), comment="the notice's policy"),
    Column("status", String(12), nullable=False, comment="open | accepted | rejected | superseded"),
    Column("reviewed_by", String(80)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("reason", Text, comment="the officer's reason (required to reject)"),
    Column("overrides_registry", Boolean, nullable=False, default=False, comment="wins over a later registry value"),
    Index(None, "status"),
    Index(None, "uscc", "fact"),
    Index(None, "notice_id"),
)
__all__ += ["SUPPLIED_FACT_STATUSES", "supplied_facts"]

# Each person once (matcher/persons.py): the insured persons a per-person benefit counted, per policy family. The
# key (family, person_id) is what makes "each person once across enterprises and years" hold; written with the
# run's grants, skipped when already there (a rerun), and read by later runs excluding their own rows.
benefit_persons = Table(
    "benefit_persons",
    metadata,
    Column("family", String(80), primary_key=True, comment="the policies within which a person counts once"),
    Column("person_id", String(64), primary_key=True, comment="pseudonymised person (si_hires.person_id)"),
    Column("uscc", String(18), nullable=False),
    Column("policy_id", String(80), nullable=False),
    Column("period_key", String(PERIOD_KEY_LENGTH), nullable=False, comment="the benefit that counted the person"),
    Column("run_id", String(32), nullable=False),
    Column("counted_at", DateTime(timezone=True), nullable=False),
    Index(None, "uscc", "policy_id", "period_key"),
)
__all__ += ["benefit_persons"]

# E-supervision (matcher/supervision): each card a matter waiting on officers turned (yellow, red, green) and each
# escalation of a red card to the supervisors, recorded once with who held the matter. The matters themselves are
# derived from their own tables (objections, supplied facts, payment batches, dead letters), never copied here.
supervision_events = Table(
    "supervision_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column(
        "step",
        String(24),
        nullable=False,
        comment="objection | supplied_fact | payment_approval | payment | dead_letter",
    ),
    Column("matter_id", BigInteger, nullable=False, comment="the id of the matter in its own table"),
    Column(
        "opened_at",
        DateTime(timezone=True),
        nullable=False,
        comment="when the matter opened: with step and matter_id, which matter",
    ),
    Column("event", String(12), nullable=False, comment="yellow | red | green | escalated"),
    Column("holder", String(80), nullable=False, comment="who held the matter when it happened"),
    Column("office", String(16), nullable=False),
    Column("policy_id", String(80)),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("step", "matter_id", "opened_at", "event"),
    Index(None, "event", "at"),
)
__all__ += ["supervision_events"]

# A department's complete list attesting a declared fact for every enterprise at once (policies/facts/declared.yaml,
# complete_list; api/service/attested_lists.py): firms on the latest list of a fact take its value, every other
# firm the declared `absent` value. Imported whole or not at all; never edited — a new list supersedes it.
attested_lists = Table(
    "attested_lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fact", String(60), nullable=False, comment="a declared fact with a complete_list"),
    Column("department", String(40), nullable=False, comment="who keeps the list (declared id)"),
    Column("as_of", Date, nullable=False, comment="the date the department's list is complete for"),
    Column("reference", Text, nullable=False, comment="the list's document reference"),
    Column("file_sha256", String(64), nullable=False),
    Column("entries", Integer, nullable=False, comment="rows on the list"),
    Column("unknown", Integer, nullable=False, comment="rows naming no enterprise in the profiles"),
    Column("imported_by", String(80), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Index(None, "fact"),
)
attested_list_entries = Table(
    "attested_list_entries",
    metadata,
    Column("list_id", Integer, ForeignKey("attested_lists.id"), primary_key=True),
    Column("uscc", String(18), primary_key=True),
    Column("value", JSON, nullable=False, comment="the fact's value as JSON"),
    Column("evidence", Text, comment="the row's own reference (a ruling, a notice), if any"),
    Index(None, "uscc"),
)
__all__ += ["attested_list_entries", "attested_lists"]
