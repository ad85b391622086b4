-- Failed sign-ins per account email in the current window (emails of no account too, since a
-- refusal must not tell them apart). A success deletes its row; expired rows are pruned.
CREATE TABLE "sign_in_failures" (
    "email" TEXT NOT NULL,
    "failures" INTEGER NOT NULL,
    "window_started_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "sign_in_failures_pkey" PRIMARY KEY ("email")
);

CREATE INDEX "sign_in_failures_window_started_at_idx" ON "sign_in_failures"("window_started_at");
