"""Re-evaluation of stored calls: resumable runs, parallel workers and the change report."""
