# The RStudio image: an EC2 Image Builder pipeline on Ubuntu 22.04, rebuilt weekly and on
# demand (output start_image_build_command), whose AMIs carry image_tags + Pool so the purpose's
# imageFilter takes the newest, and a lifecycle policy that deregisters old AMIs and deletes their
# snapshots, keeping the newest image_keep_count. The build steps are the shell scripts in
# deploy/image/steps (Packer runs the same ones, deploy/packer/).

locals {
  image_dir  = "${path.module}/../image"
  image_name = "${local.name}-rstudio"

  # Helper files (deploy/image/helpers) written inline before 60-pool-helpers.sh installs them.
  helper_names = ["rstudio-pool-home", "rstudio-pool-busy", "rstudio-pool-ready"]
  helpers_inline = join("\n", concat(
    ["HELPERS_DIR=$(mktemp -d)", "export HELPERS_DIR"],
    [for h in local.helper_names : "cat >\"$HELPERS_DIR/${h}\" <<'RSP_HELPER_EOF'\n${trimsuffix(file("${local.image_dir}/helpers/${h}"), "\n")}\nRSP_HELPER_EOF"],
  ))

  image_env = join("\n", [
    "export RSTUDIO_SERVER_VERSION='${var.rstudio_server_version}'",
    "export R_PACKAGES='${join(" ", var.r_packages)}'",
  ])

  # name => build script (with its inputs); one component each, so a failed build names the step.
  image_steps = {
    ssm-agent      = file("${local.image_dir}/steps/10-ssm-agent.sh")
    r              = file("${local.image_dir}/steps/20-r.sh")
    rstudio-server = "${local.image_env}\n${file("${local.image_dir}/steps/30-rstudio-server.sh")}"
    r-packages     = "${local.image_env}\n${file("${local.image_dir}/steps/40-r-packages.sh")}"
    jupyter        = file("${local.image_dir}/steps/50-jupyter.sh")
    pool-helpers   = "${local.helpers_inline}\n${file("${local.image_dir}/steps/60-pool-helpers.sh")}"
  }
  image_step_order = ["ssm-agent", "r", "rstudio-server", "r-packages", "jupyter", "pool-helpers"]
}

# Components are immutable per version: the version is derived from the content, so a changed
# script makes a new component (created before the old one goes).
resource "aws_imagebuilder_component" "step" {
  for_each = var.enable_image_pipeline ? local.image_steps : {}
  name     = "${local.image_name}-${each.key}"
  platform = "Linux"
  version  = "1.0.${parseint(substr(sha256(each.value), 0, 7), 16)}"
  data = yamlencode({
    schemaVersion = 1.0
    phases = [{
      name  = "build"
      steps = [{ name = "Run", action = "ExecuteBash", inputs = { commands = ["set -euo pipefail", each.value] } }]
    }]
  })
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_imagebuilder_component" "validate" {
  count    = var.enable_image_pipeline ? 1 : 0
  name     = "${local.image_name}-validate"
  platform = "Linux"
  version  = "1.0.${parseint(substr(sha256("${local.image_env}${file("${local.image_dir}/steps/90-validate.sh")}"), 0, 7), 16)}"
  data = yamlencode({
    schemaVersion = 1.0
    phases = [{
      name  = "test"
      steps = [{ name = "Validate", action = "ExecuteBash", inputs = { commands = ["set -euo pipefail", "${local.image_env}\n${file("${local.image_dir}/steps/90-validate.sh")}"] } }]
    }]
  })
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_imagebuilder_image_recipe" "rstudio" {
  count             = var.enable_image_pipeline ? 1 : 0
  name              = local.image_name
  version           = var.image_recipe_version
  parent_image      = "arn:${local.partition}:imagebuilder:${var.region}:aws:image/ubuntu-server-22-lts-x86/x.x.x"
  working_directory = "/var/tmp"
  dynamic "component" {
    for_each = local.image_step_order
    content {
      component_arn = aws_imagebuilder_component.step[component.value].arn
    }
  }
  component {
    component_arn = aws_imagebuilder_component.validate[0].arn
  }
  block_device_mapping {
    device_name = "/dev/sda1"
    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
  lifecycle {
    create_before_destroy = true
  }
}

# The build instance: private subnet, outbound HTTP(S) for apt, CRAN and Posit (needs NAT).
data "aws_iam_policy_document" "image_builder_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "image_builder" {
  count              = var.enable_image_pipeline ? 1 : 0
  name               = "${local.name}-image-builder"
  description        = "RStudio Pool image builds (Image Builder build and test instances)"
  assume_role_policy = data.aws_iam_policy_document.image_builder_trust.json
}

resource "aws_iam_role_policy_attachment" "image_builder" {
  for_each   = var.enable_image_pipeline ? toset(["EC2InstanceProfileForImageBuilder", "AmazonSSMManagedInstanceCore"]) : toset([])
  role       = aws_iam_role.image_builder[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

resource "aws_iam_instance_profile" "image_builder" {
  count = var.enable_image_pipeline ? 1 : 0
  name  = "${local.name}-image-builder"
  role  = aws_iam_role.image_builder[0].name
}

resource "aws_imagebuilder_infrastructure_configuration" "rstudio" {
  count                         = var.enable_image_pipeline ? 1 : 0
  name                          = local.image_name
  instance_profile_name         = aws_iam_instance_profile.image_builder[0].name
  instance_types                = var.image_build_instance_types
  subnet_id                     = local.private_subnet_ids[0]
  security_group_ids            = [aws_security_group.hosts.id]
  terminate_instance_on_failure = true
  instance_metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
}

resource "aws_imagebuilder_distribution_configuration" "rstudio" {
  count = var.enable_image_pipeline ? 1 : 0
  name  = local.image_name
  distribution {
    region = var.region
    ami_distribution_configuration {
      name     = "${local.image_name}-{{ imagebuilder:buildDate }}"
      ami_tags = merge(var.image_tags, local.pool_tag, { Name = local.image_name, RStudioServer = var.rstudio_server_version })
    }
  }
}

resource "aws_imagebuilder_image_pipeline" "rstudio" {
  count                            = var.enable_image_pipeline ? 1 : 0
  name                             = local.image_name
  description                      = "RStudio Server, R, JupyterLab and the pool's helpers on Ubuntu 22.04"
  image_recipe_arn                 = aws_imagebuilder_image_recipe.rstudio[0].arn
  infrastructure_configuration_arn = aws_imagebuilder_infrastructure_configuration.rstudio[0].arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.rstudio[0].arn
  status                           = "ENABLED"
  schedule {
    schedule_expression = var.image_schedule
    # Weekly even when the parent image has not changed: R packages and security updates move.
    pipeline_execution_start_condition = "EXPRESSION_MATCH_ONLY"
  }
  image_tests_configuration {
    image_tests_enabled = true
    timeout_minutes     = 60
  }
}

# The first AMI, built during the apply so a new pool can launch hosts right away (about 40
# minutes). Later images come from the pipeline's schedule. This one is tagged to be kept by
# the lifecycle policy: were it deleted, Terraform would build it again on the next apply.
resource "aws_imagebuilder_image" "first" {
  count                            = var.enable_image_pipeline && var.build_image_on_apply ? 1 : 0
  image_recipe_arn                 = aws_imagebuilder_image_recipe.rstudio[0].arn
  infrastructure_configuration_arn = aws_imagebuilder_infrastructure_configuration.rstudio[0].arn
  distribution_configuration_arn   = aws_imagebuilder_distribution_configuration.rstudio[0].arn
  image_tests_configuration {
    image_tests_enabled = true
    timeout_minutes     = 60
  }
  tags = { RStudioPoolFirstImage = "true" }
  timeouts {
    create = "120m"
  }
  lifecycle {
    # A new recipe version is the pipeline's business, not a reason to rebuild this one.
    ignore_changes = [image_recipe_arn, infrastructure_configuration_arn, distribution_configuration_arn]
  }
}

# --- old images out ----------------------------------------------------------------------

data "aws_iam_policy_document" "image_lifecycle_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["imagebuilder.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "image_lifecycle" {
  count              = var.enable_image_pipeline ? 1 : 0
  name               = "${local.name}-image-lifecycle"
  description        = "RStudio Pool: Image Builder lifecycle policy (deregisters old AMIs)"
  assume_role_policy = data.aws_iam_policy_document.image_lifecycle_trust.json
}

resource "aws_iam_role_policy_attachment" "image_lifecycle" {
  count      = var.enable_image_pipeline ? 1 : 0
  role       = aws_iam_role.image_lifecycle[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/EC2ImageBuilderLifecycleExecutionPolicy"
}

resource "aws_imagebuilder_lifecycle_policy" "rstudio" {
  count          = var.enable_image_pipeline ? 1 : 0
  name           = local.image_name
  description    = "Keep the newest ${var.image_keep_count} RStudio AMIs; deregister older ones and delete their snapshots"
  execution_role = aws_iam_role.image_lifecycle[0].arn
  resource_type  = "AMI_IMAGE"
  status         = "ENABLED"
  policy_detail {
    action {
      type = "DELETE"
      include_resources {
        amis      = true
        snapshots = true
      }
    }
    filter {
      type  = "COUNT"
      value = var.image_keep_count
    }
    exclusion_rules {
      tag_map = { RStudioPoolFirstImage = "true" }
    }
  }
  resource_selection {
    dynamic "recipe" {
      for_each = toset(concat([var.image_recipe_version], var.image_retired_recipe_versions))
      content {
        name             = local.image_name
        semantic_version = recipe.value
      }
    }
  }
  depends_on = [aws_iam_role_policy_attachment.image_lifecycle]
}
