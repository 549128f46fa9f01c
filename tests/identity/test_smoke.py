from tests.conftest import Users


async def test_sign_up_and_read_me(client, users: Users) -> None:
    alice = await users.create("alice")
    me = await client.get("/api/v1/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
