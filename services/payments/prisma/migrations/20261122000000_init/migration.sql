-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "payment_status" AS ENUM ('AUTHORIZED', 'CAPTURED', 'VOIDED', 'REFUNDED', 'DECLINED');

-- CreateTable
CREATE TABLE "payments" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "user_id" UUID,
    "status" "payment_status" NOT NULL,
    "currency" CHAR(3),
    "amount_minor" BIGINT,
    "decline_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id"),
    -- A row without a user is a void tombstone: an order voided before any authorization.
    CONSTRAINT "payments_tombstone_check" CHECK ("user_id" IS NOT NULL OR ("status" = 'VOIDED' AND "amount_minor" IS NULL)),
    CONSTRAINT "payments_amount_check" CHECK (("user_id" IS NULL) = ("amount_minor" IS NULL) AND ("currency" IS NULL) = ("amount_minor" IS NULL) AND "amount_minor" >= 0),
    CONSTRAINT "payments_decline_reason_check" CHECK (("status" = 'DECLINED') = ("decline_reason" IS NOT NULL))
);

-- CreateTable
CREATE TABLE "authorization_attempts" (
    "order_id" UUID NOT NULL,
    "attempts" INTEGER NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "authorization_attempts_pkey" PRIMARY KEY ("order_id"),
    CONSTRAINT "authorization_attempts_attempts_check" CHECK ("attempts" > 0)
);

-- CreateTable
CREATE TABLE "outbox_events" (
    "id" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" BYTEA NOT NULL,
    "headers" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "payments_order_id_key" ON "payments"("order_id");

-- CreateIndex
CREATE INDEX "outbox_events_sent_at_created_at_idx" ON "outbox_events"("sent_at", "created_at");

