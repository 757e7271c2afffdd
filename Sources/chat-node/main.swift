import ChatNode; import ArgumentParser; print("x")
