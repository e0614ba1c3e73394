// The fields every record on its way to the OpenAI Batch API has (embedding batches, batch-mode
// jobs): its uploaded input file, the claim on the step that creates the batch, the batch itself.

export interface BatchSubmissionFields {
  createdAt: number;
  /** The input file at the provider (UPLOADED on). */
  fileId?: string;
  uploadedAt?: number;
  /** CREATING: the attempt that holds the right to create the provider batch. */
  creatingBy?: string;
  /** CREATING: when that right lapses (ms); another attempt may take it over after. */
  creatingUntil?: number;
  openaiBatchId?: string;
  submittedAt?: number;
  /** The provider's last status seen. */
  status?: string;
}
