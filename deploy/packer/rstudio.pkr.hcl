# The RStudio image with Packer, for teams that bake their own AMIs instead of using the
# Image Builder pipeline in deploy/terraform/image.tf. Same build steps (deploy/image/steps),
# same helpers, same tags, so the purpose's imageFilter finds these AMIs the same way.
#
# NOT RUN on the project's machines (no Packer, no AWS there): `packer validate` and a build
# are for your own workstation or CI. From the repository root:
#   packer init deploy/packer && packer build -var pool_name=research -var region=eu-west-1 deploy/packer
# The build instance has no inbound rules: Packer reaches it through SSM Session Manager
# (session-manager-plugin on the machine running Packer) and needs outbound internet (NAT)
# for apt, CRAN and Posit's downloads.

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type        = string
  description = "Region to build in."
}

variable "pool_name" {
  type        = string
  description = "The pool's name: the Pool tag the backend's imageFilter requires."
}

variable "subnet_id" {
  type        = string
  default     = ""
  description = "Private subnet with NAT for the build instance (empty: the default VPC)."
}

variable "instance_profile" {
  type        = string
  default     = ""
  description = "Instance profile with AmazonSSMManagedInstanceCore for the build instance (empty: Packer makes a temporary one)."
}

variable "rstudio_server_version" {
  type    = string
  default = "2024.12.1-563"
}

variable "r_packages" {
  type    = list(string)
  default = ["data.table", "ggplot2", "dplyr", "IRkernel"]
}

variable "image_tags" {
  type    = map(string)
  default = { Role = "rstudio" }
}

locals {
  stamp = formatdate("YYYYMMDDhhmm", timestamp())
  steps = "${path.root}/../image/steps"
  env = [
    "RSTUDIO_SERVER_VERSION=${var.rstudio_server_version}",
    "R_PACKAGES=${join(" ", var.r_packages)}",
    "HELPERS_DIR=/tmp/rstudio-pool-helpers",
  ]
}

source "amazon-ebs" "rstudio" {
  region        = var.region
  instance_type = "m6i.large"
  subnet_id     = var.subnet_id != "" ? var.subnet_id : null
  ami_name      = "rsp-${var.pool_name}-rstudio-packer-${local.stamp}"
  source_ami_filter {
    owners      = ["099720109477"] # Canonical
    most_recent = true
    filters = {
      name                = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
  }
  # Packer logs in as ubuntu, which would hold uid 1000 (wanted by the rstudio user) and could
  # not be moved while logged in: on the build instance cloud-init gives it uid 2000 instead.
  # (Hosts launched from the AMI get ubuntu with the next free uid; rstudio keeps 1000.)
  user_data = <<-CLOUDCONFIG
    #cloud-config
    system_info:
      default_user:
        name: ubuntu
        uid: 2000
        lock_passwd: true
        groups: [adm, sudo]
        sudo: ["ALL=(ALL) NOPASSWD:ALL"]
        shell: /bin/bash
  CLOUDCONFIG
  communicator                = "ssh"
  ssh_username                = "ubuntu"
  ssh_interface               = "session_manager"
  iam_instance_profile        = var.instance_profile != "" ? var.instance_profile : null
  temporary_iam_instance_profile_policy_document {
    Version = "2012-10-17"
    Statement {
      Effect   = "Allow"
      Action   = ["ssm:UpdateInstanceInformation", "ssmmessages:*", "ec2messages:*"]
      Resource = ["*"]
    }
  }
  associate_public_ip_address = false
  metadata_options {
    http_tokens                 = "required"
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 30
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
  }
  tags = merge(var.image_tags, { Pool = var.pool_name, Name = "rsp-${var.pool_name}-rstudio", RStudioServer = var.rstudio_server_version, BuiltBy = "packer" })
}

build {
  sources = ["source.amazon-ebs.rstudio"]

  provisioner "file" {
    source      = "${path.root}/../image/helpers/"
    destination = "/tmp/rstudio-pool-helpers"
  }

  provisioner "shell" {
    environment_vars = local.env
    execute_command  = "sudo -E bash '{{ .Path }}'"
    scripts = [
      "${local.steps}/10-ssm-agent.sh",
      "${local.steps}/20-r.sh",
      "${local.steps}/30-rstudio-server.sh",
      "${local.steps}/40-r-packages.sh",
      "${local.steps}/50-jupyter.sh",
      "${local.steps}/60-pool-helpers.sh",
      "${local.steps}/90-validate.sh",
    ]
  }
}
