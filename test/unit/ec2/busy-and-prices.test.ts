import assert from "node:assert/strict";
import { test } from "node:test";
import { DescribeImagesCommand, DescribeSpotPriceHistoryCommand, EC2Client } from "@aws-sdk/client-ec2";
import { mockClient } from "aws-sdk-client-mock";
import { isBusyReading, parseBusyOutput } from "../../../backend/providers/ec2/busy-check";
import { ImageResolver } from "../../../backend/providers/ec2/image-resolver";
import { ebsGbMonth, instanceHourly, onDemandHourly, priceTable, SpotPrices } from "../../../backend/providers/ec2/prices";
import { ec2PurposeConfig } from "../../support/aws/builders";

test("busy check: load per CPU or the busiest rsession against the threshold", () => {
  const r = parseBusyOutput("load=1.90 cpus=2 rsession=3.0\n")!;
  assert.deepEqual(r, { load: 1.9, cpus: 2, rsessionCpu: 3 });
  assert.equal(isBusyReading(r, 25), true); // 95% load
  assert.equal(isBusyReading({ load: 0.1, cpus: 4, rsessionCpu: 99.5 }, 25), true); // one R process computing
  assert.equal(isBusyReading({ load: 0.1, cpus: 4, rsessionCpu: 0 }, 25), false);
  assert.equal(parseBusyOutput("garbage"), null);
});

test("the on-demand table has its source, date and the common types; EBS per GB-month", () => {
  assert.match(priceTable.source, /aws\.amazon\.com/);
  assert.match(priceTable.date, /^\d{4}-\d{2}-\d{2}$/);
  for (const region of ["us-east-1", "eu-west-1"]) for (const t of ["t3.large", "m5.large", "r5.large"]) assert.ok(onDemandHourly(region, t)! > 0, `${region} ${t}`);
  assert.equal(onDemandHourly("us-east-1", "t3.large"), 0.0832);
  assert.equal(onDemandHourly("mars-1", "t3.large"), null);
  assert.equal(ebsGbMonth("us-east-1", "gp3"), 0.08);
});

test("spot prices come from DescribeSpotPriceHistory (newest per zone, lowest zone) and are cached", async () => {
  const mock = mockClient(EC2Client);
  mock.on(DescribeSpotPriceHistoryCommand).resolves({
    SpotPriceHistory: [
      { AvailabilityZone: "us-east-1a", InstanceType: "t3.large", SpotPrice: "0.0400", Timestamp: new Date("2026-11-23T10:00:00Z") },
      { AvailabilityZone: "us-east-1a", InstanceType: "t3.large", SpotPrice: "0.0300", Timestamp: new Date("2026-11-23T11:00:00Z") },
      { AvailabilityZone: "us-east-1b", InstanceType: "t3.large", SpotPrice: "0.0350", Timestamp: new Date("2026-11-23T11:00:00Z") },
    ],
  });
  const spot = new SpotPrices(new EC2Client({ region: "us-east-1" }));
  assert.equal(await spot.hourly("t3.large", null), 0.03);
  assert.equal(await spot.hourly("t3.large", null), 0.03);
  assert.equal(mock.commandCalls(DescribeSpotPriceHistoryCommand).length, 1);
  assert.deepEqual(mock.commandCalls(DescribeSpotPriceHistoryCommand)[0]!.args[0].input.ProductDescriptions, ["Linux/UNIX"]);
  // The purpose's pinned price wins; on-demand comes from the table.
  assert.equal(await instanceHourly(ec2PurposeConfig({ hourlyPrice: 0.5 }), "us-east-1", spot, "t3.large", "spot", null), 0.5);
  assert.equal(await instanceHourly(ec2PurposeConfig(), "us-east-1", spot, "t3.large", "on-demand", null), 0.0832);
  mock.restore();
});

test("the image resolver takes the newest matching AMI and caches it", async () => {
  const mock = mockClient(EC2Client);
  mock.on(DescribeImagesCommand).resolves({
    Images: [
      { ImageId: "ami-old", CreationDate: "2026-11-09T03:00:00.000Z", RootDeviceName: "/dev/xvda" },
      { ImageId: "ami-new", CreationDate: "2026-11-16T03:00:00.000Z", RootDeviceName: "/dev/sda1" },
      { ImageId: "ami-mid", CreationDate: "2026-11-12T03:00:00.000Z", RootDeviceName: "/dev/xvda" },
    ],
  });
  const r = new ImageResolver(new EC2Client({ region: "us-east-1" }));
  const cfg = { imageFilter: { tags: { Role: "rstudio" }, owners: ["self"], namePattern: "rstudio-*" } };
  assert.deepEqual(await r.resolve(cfg), { imageId: "ami-new", rootDeviceName: "/dev/sda1", name: null, creationDate: "2026-11-16T03:00:00.000Z" });
  await r.resolve(cfg);
  const calls = mock.commandCalls(DescribeImagesCommand);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.args[0].input.Filters, [{ Name: "state", Values: ["available"] }, { Name: "tag:Role", Values: ["rstudio"] }, { Name: "name", Values: ["rstudio-*"] }]);
  mock.restore();
});
