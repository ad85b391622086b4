-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "shipment_status" AS ENUM ('CREATED', 'DISPATCHED', 'CANCELLED');

-- CreateTable
CREATE TABLE "shipments" (
    "id" UUID NOT NULL,
    "order_id" UUID NOT NULL,
    "user_id" UUID,
    "status" "shipment_status" NOT NULL,
    "tracking_number" TEXT,
    "recipient" TEXT,
    "line1" TEXT,
    "line2" TEXT,
    "city" TEXT,
    "postal_code" TEXT,
    "country_code" CHAR(2),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "shipments_pkey" PRIMARY KEY ("id"),
    -- A row without a user is a cancel tombstone: an order cancelled before any shipment.
    CONSTRAINT "shipments_tombstone_check" CHECK ("user_id" IS NOT NULL OR "status" = 'CANCELLED'),
    CONSTRAINT "shipments_complete_check" CHECK (num_nulls("user_id", "tracking_number", "recipient", "line1", "line2", "city", "postal_code", "country_code") IN (0, 8))
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
CREATE UNIQUE INDEX "shipments_order_id_key" ON "shipments"("order_id");

-- CreateIndex
CREATE UNIQUE INDEX "shipments_tracking_number_key" ON "shipments"("tracking_number");

-- CreateIndex
CREATE INDEX "outbox_events_sent_at_created_at_idx" ON "outbox_events"("sent_at", "created_at");

