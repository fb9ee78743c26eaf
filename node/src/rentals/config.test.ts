import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.ts";

describe("rentals config", () => {
  it("defaults: on with a chain and PRIVATE_KEY, SSH on 2222, 4 rentals, the local session image", () => {
    expect(loadConfig({}).rentals).toMatchObject({
      enabled: false,
      sshPort: 2222,
      sshHost: "127.0.0.1",
      maxRentals: 4,
      image: "compute/session:latest",
    });
    expect(loadConfig({ RPC_URL: "http://127.0.0.1:8545" }).rentals.enabled).toBe(false);
    expect(loadConfig({ RPC_URL: "http://127.0.0.1:8545", PRIVATE_KEY: "0x01" }).rentals).toMatchObject({
      enabled: true,
      explicit: false,
    });
  });

  it("parses SSH_PORT, SSH_HOST, MAX_RENTALS, DOCKER_ENABLED, SESSION_IMAGE, DOCKER_HOST", () => {
    const c = loadConfig({
      RPC_URL: "http://127.0.0.1:8545",
      PRIVATE_KEY: "0x01",
      SSH_PORT: "2200",
      SSH_HOST: "gpu.example.com",
      MAX_RENTALS: "8",
      DOCKER_ENABLED: "false",
      SESSION_IMAGE: "ubuntu:24.04",
      DOCKER_HOST: "unix:///run/compute-docker/docker.sock",
    });
    expect(c.rentals).toMatchObject({
      enabled: false,
      explicit: true,
      sshPort: 2200,
      sshHost: "gpu.example.com",
      maxRentals: 8,
      image: "ubuntu:24.04",
      dockerHost: "unix:///run/compute-docker/docker.sock",
    });
    expect(() => loadConfig({ SSH_PORT: "70000" })).toThrow(/SSH_PORT/);
    expect(() => loadConfig({ DOCKER_ENABLED: "maybe" })).toThrow(/DOCKER_ENABLED/);
  });
});
