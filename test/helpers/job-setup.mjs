// A DownloadOptions.jobSetup module for the tests: each job thread that calls it leaves a line in
// the file named by BULKGET_TEST_JOB_SETUP, once its byte counter can be read.
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export function setupJob({ bytesReceived }) {
  appendFileSync(process.env.BULKGET_TEST_JOB_SETUP, `thread ${threadId} bytes ${typeof bytesReceived()}\n`);
}
