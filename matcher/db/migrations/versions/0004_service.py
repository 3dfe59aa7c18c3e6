"""service: api_tokens, policy_drafts, policy_versions, run_requests

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, comment="sha256 of the token; never the token"),
        sa.Column(
            "prefix", sa.String(length=12), nullable=False, comment="the token's first characters, to recognise it"
        ),
        sa.Column("role", sa.String(length=16), nullable=False, comment="enterprise | officer | analyst | admin"),
        sa.Column(
            "uscc", sa.String(length=18), nullable=True, comment="the one enterprise an enterprise token acts for"
        ),
        sa.Column("name", sa.String(length=80), nullable=False, comment="who holds it, for the audit log"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "policy_drafts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=True, comment="read from the text when it parses"),
        sa.Column("version", sa.Integer(), nullable=True, comment="read from the text when it parses"),
        sa.Column("source", sa.Text(), nullable=False, comment="the policy text as the officer wrote it"),
        sa.Column("format", sa.String(length=8), nullable=False, comment="yaml | json"),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="set once published; a published draft is frozen",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_drafts")),
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False, comment="the policy file text in force"),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True, comment="null: a closed repository version"),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"], ["policy_drafts.id"], name=op.f("fk_policy_versions_draft_id_policy_drafts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("policy_id", "version", name=op.f("uq_policy_versions_policy_id_version")),
    )
    op.create_table(
        "run_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="queued | running | completed | failed"),
        sa.Column("stage", sa.String(length=80), nullable=True, comment="the stage the run is in"),
        sa.Column("run_id", sa.String(length=32), nullable=True, comment="the matching run, once known"),
        sa.Column("outcome", sa.String(length=16), nullable=True, comment="completed | unchanged"),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_requests")),
    )


def downgrade() -> None:
    op.drop_table("run_requests")
    op.drop_table("policy_versions")
    op.drop_table("policy_drafts")
    op.drop_table("api_tokens")
