# RStudio Pool on AWS: the whole stack in one root module (README: deploy/README.md).
# Plain hashicorp/aws resources only; write-only attributes (the database password) need
# Terraform 1.11 or newer.
terraform {
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.87, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge(var.tags, { Pool = var.pool_name, ManagedBy = "terraform", Component = "rstudio-pool" })
  }
}

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  # Short prefix for names with tight limits (load balancer, target group: 32 characters).
  name = "rsp-${var.pool_name}"
  # The Pool tag is what the backend's IAM conditions and listings key on.
  pool_tag = { Pool = var.pool_name }
}
