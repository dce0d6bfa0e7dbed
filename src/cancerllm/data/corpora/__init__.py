"""Converters from the shared real corpora (TCGA pathology reports, BioNLP13CG, MTSamples) to Note JSONL."""
