import { openStore } from "../mod/service/store/open.ts";
import { storeContract } from "./helpers/store_contract.ts";

storeContract("sqlite store", async () => {
  const dir = await Deno.makeTempDir({ prefix: "socklab-store-" });
  return {
    open: () => openStore({ data: dir }),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
});
