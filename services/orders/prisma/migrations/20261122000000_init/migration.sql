-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "OrderStatus" AS ENUM ('PENDING', 'CONFIRMED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "SagaPhase" AS ENUM ('FORWARD', 'COMPENSATING', 'CANCELLING', 'CONFIRMED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "SagaStep" AS ENUM ('PRICE', 'AUTHORIZE', 'RESERVE', 'SHIP', 'CAPTURE', 'COMMIT');

-- CreateTable
CREATE TABLE "orders" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "status" "OrderStatus" NOT NULL DEFAULT 'PENDING',
    "currency" VARCHAR(3) NOT NULL DEFAULT '',
    "total_minor" BIGINT NOT NULL DEFAULT 0,
    "cancellation_reason" TEXT NOT NULL DEFAULT '',
    "shipping_address" JSONB NOT NULL,
    "payment_token" TEXT NOT NULL,
    "idempotency_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "orders_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "order_items" (
    "order_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,
    "name" TEXT NOT NULL DEFAULT '',
    "unit_price_minor" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "order_items_pkey" PRIMARY KEY ("order_id","position")
);

-- CreateTable
CREATE TABLE "checkout_sagas" (
    "order_id" UUID NOT NULL,
    "phase" "SagaPhase" NOT NULL DEFAULT 'FORWARD',
    "step" "SagaStep" DEFAULT 'PRICE',
    "compensations" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "reason" TEXT,
    "cancel_requested" BOOLEAN NOT NULL DEFAULT false,
    "cancel_rejection" TEXT NOT NULL DEFAULT '',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_owner" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "correlation_id" TEXT NOT NULL,
    "traceparent" TEXT,
    "tracestate" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "checkout_sagas_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "order_history" (
    "order_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "status" "OrderStatus" NOT NULL,
    "priced" BOOLEAN NOT NULL,
    "order" JSONB NOT NULL,
    "create_time" TIMESTAMPTZ(3) NOT NULL,
    "update_time" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "order_history_pkey" PRIMARY KEY ("order_id")
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

-- CreateTable
CREATE TABLE "inbox_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_events_pkey" PRIMARY KEY ("consumer","event_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "orders_user_id_idempotency_key_key" ON "orders"("user_id", "idempotency_key");

-- CreateIndex
CREATE INDEX "order_history_user_id_create_time_order_id_idx" ON "order_history"("user_id", "create_time" DESC, "order_id" DESC);

-- CreateIndex
CREATE INDEX "outbox_events_sent_at_created_at_idx" ON "outbox_events"("sent_at", "created_at");

-- AddForeignKey
ALTER TABLE "order_items" ADD CONSTRAINT "order_items_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "checkout_sagas" ADD CONSTRAINT "checkout_sagas_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "orders"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: what the Prisma schema cannot express.

-- A cancelled order always says why; no other order does.
ALTER TABLE "orders" ADD CONSTRAINT "orders_cancellation_reason_check"
    CHECK (("status" = 'CANCELLED') = ("cancellation_reason" <> ''));

ALTER TABLE "order_items" ADD CONSTRAINT "order_items_quantity_check" CHECK ("quantity" > 0);

-- A forward saga always knows its next step.
ALTER TABLE "checkout_sagas" ADD CONSTRAINT "checkout_sagas_step_check"
    CHECK (("phase" = 'FORWARD') = ("step" IS NOT NULL));

-- Runners look for due sagas that need work; finished ones (nearly all rows) stay out of the index.
CREATE INDEX "checkout_sagas_due_idx" ON "checkout_sagas"("next_run_at")
    WHERE "phase" IN ('FORWARD', 'COMPENSATING', 'CANCELLING') OR ("phase" = 'CONFIRMED' AND "cancel_requested");
