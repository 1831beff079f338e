"""A short scripted visit of the booking API over HTTP: what `surge demo` shows.

Every step is a real request; the result is a list of flat records (step, status, what).
"""

from __future__ import annotations

import httpx

PEOPLE = (
    ("Camille", "Martin", "1988-04-12", "camille.martin@example.fr", "+33 6 11 22 33 44"),
    ("Louis", "Bernard", "1975-09-30", "louis.bernard@example.fr", "+33 6 55 66 77 88"),
    ("Inès", "Petit", "1999-01-05", "ines.petit@example.fr", "+33 7 01 02 03 04"),
)


def _record(steps: list[dict], step: str, response: httpx.Response, what: str) -> dict:
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    steps.append({"step": step, "status": response.status_code, "what": what})
    return body


def run_booking_demo(
    base_url: str, admin_key: str, postcode: str = "75011", vaccine: str = "pfizer"
) -> list[dict]:
    """Search, read availability, book with the server-picked dose 2, list, cancel, check invariants."""
    steps: list[dict] = []
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        centers = _record(
            steps,
            "search",
            client.get("/centers", params={"postcode": postcode, "vaccine": vaccine, "limit": 3}),
            f"centres near {postcode} offering {vaccine}",
        )
        if not centers:
            return steps
        center = centers[0]
        steps[-1]["what"] += (
            f": nearest is #{center['id']} {center['name']} ({center['distance_km']} km)"
        )
        slots = _record(
            steps,
            "availability",
            client.get(
                f"/centers/{center['id']}/availability",
                params={"vaccine": vaccine, "dose": 1, "days": 7},
            ),
            f"open dose-1 slots at centre #{center['id']}",
        )
        steps[-1]["what"] += f": {len(slots)} found"
        booked = []
        for i, (first, last, born, email, phone) in enumerate(PEOPLE):
            patient = _record(
                steps,
                "register",
                client.post(
                    "/patients",
                    json={
                        "first_name": first,
                        "last_name": last,
                        "birth_date": born,
                        "email": email,
                        "phone": phone,
                    },
                ),
                f"patient {i + 1} registered (identity encrypted at rest)",
            )
            headers = {
                "Authorization": f"Bearer {patient['token']}",
                "Idempotency-Key": f"demo-{i}",
            }
            slot = slots[min(i, len(slots) - 1)]
            result = _record(
                steps,
                "book",
                client.post("/appointments", headers=headers, json={"slot_id": slot["id"]}),
                "",
            )
            if "dose1" in result:
                dose2 = result["dose2"]["start"] if result["dose2"] else "none needed"
                steps[-1]["what"] = (
                    f"patient {i + 1}: dose 1 {result['dose1']['start']}, dose 2 {dose2}"
                )
                booked.append((headers, result["id"]))
            else:
                steps[-1]["what"] = f"patient {i + 1}: refused ({result.get('error')})"
            replay = client.post("/appointments", headers=headers, json={"slot_id": slot["id"]})
            _record(
                steps,
                "replay",
                replay,
                f"same Idempotency-Key again: {replay.headers.get('Idempotent-Replayed') and 'original result replayed' or replay.json().get('error')}",
            )
        if booked:
            headers, appointment_id = booked[0]
            mine = _record(steps, "list", client.get("/appointments", headers=headers), "")
            steps[-1]["what"] = f"patient 1 sees {len(mine)} appointment(s)"
            _record(
                steps,
                "cancel",
                client.delete(f"/appointments/{appointment_id}", headers=headers),
                f"patient 1 cancels appointment #{appointment_id} (both doses freed)",
            )
            if len(booked) > 1:
                other = client.delete(f"/appointments/{booked[1][1]}", headers=headers)
                _record(
                    steps, "isolation", other, "patient 1 tries to cancel patient 2's appointment"
                )
        checks = _record(steps, "invariants", client.get("/admin/invariants", headers=admin), "")
        steps[-1]["what"] = ", ".join(f"{k}={v}" for k, v in checks.items())
    return steps
