"""Deployment tooling: Lambda packaging, device provisioning, local certificates, the AWS bill model."""
