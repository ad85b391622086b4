// Folds every payment's stream again from its events and checks each snapshot against the
// fold at its version; exits 1 if any disagrees or a stream does not fold. It reads the
// payments database directly, so only those who hold its credentials can run it:
//   npm run payments:rebuild-ledger            (PAYMENTS_DATABASE_URL, as the service)

import { createSqlDatabase, loadToolConfig } from "@shop/runtime";
import { snapshotEverySpec } from "./config.js";
import { PaymentLedger } from "./db/payments.js";

const config = loadToolConfig("payments", snapshotEverySpec);
const db = createSqlDatabase(config.databaseUrl, { poolSize: 1 });
try {
  const started = Date.now();
  const report = await new PaymentLedger(db, { snapshotEvery: config.PAYMENT_SNAPSHOT_EVERY }).refold();
  for (const { streamId, version, error } of report.unfoldable) console.log(`${streamId} does not fold at version ${version}: ${error}`);
  for (const { streamId, version, folded, stored } of report.mismatches) {
    console.log(
      folded === undefined
        ? `${streamId}: its snapshot is at version ${version}, past the stream's end: ${JSON.stringify(stored)}`
        : `${streamId}: its snapshot at version ${version} differs from the fold\n  stored ${JSON.stringify(stored)}\n  folded ${JSON.stringify(folded)}`,
    );
  }
  console.log(
    `payments ledger: ${report.streams} streams, ${report.events} events folded; ${report.snapshotsChecked} snapshots checked` +
      ` (${report.snapshotsOfOtherVersions} of other fold versions ignored); ${report.mismatches.length} disagree,` +
      ` ${report.unfoldable.length} streams do not fold (${Date.now() - started} ms)`,
  );
  if (report.mismatches.length > 0 || report.unfoldable.length > 0) process.exitCode = 1;
} finally {
  await db.close();
}
