// The clients the harmonizer's pipeline-queue activities are built with (injected: tests pass
// real local servers or fakes).
import type { ChromaStore } from '../../stores/chroma';
import type { OutlierDecisionCache } from '../../stores/outlier-decisions';
import type { ReceiptStore } from '../../stores/receipts';
import type { RunStore } from '../../stores/runs';
import type { ObjectStore } from '../../stores/s3';

export interface HarmonizationDeps {
  receipts: ReceiptStore;
  runs: RunStore;
  truthFile: string;
  chroma: ChromaStore;
  objects: ObjectStore;
  outlierDecisions: OutlierDecisionCache;
}
