/**
 * The TV's built-in programme: an original short play written for socklab,
 * a balcony scene between a datagram and a listening socket. `tv --script
 * FILE` replaces it.
 *
 * @module
 */

/** The default script, one datagram per line; blank lines go out as the bare ID. */
export const DEFAULT_SCRIPT: string = `THE BALCONY OF PORT 10505
A scene for socklab, after a famous balcony.

Night. A garden on the loopback interface. DATAGRAM waits below;
SOCKET leans out of a listening port above.

DATAGRAM.
But soft! what packet through yonder buffer breaks?
It is the port, and Socket is its sun.
Arise, fair socket, bind thyself to me,
Who waits already pale with timeouts.

SOCKET.
Ay me! Who knocks upon my port at such an hour?

DATAGRAM.
A datagram: six bytes of name, and then my heart.
I bring no handshake, lady, and no sequence number;
I came the way all honest packets come, unasked.

SOCKET.
O Datagram, Datagram! why art thou connectionless?
Forsake thy header, give away thy checksum;
Or, if thou wilt not, promise me a stream,
And I will be a listening port no more.

DATAGRAM.
Call me but SYN and I am new established;
From this night on I will not be UDP.

SOCKET.
What is a port? A number, nothing more.
Give me another and I would accept thee still.

DATAGRAM.
On group-wide wings I flew above these walls,
For no router's TTL can keep love out,
And what a host may join, a heart may too.

SOCKET.
If the firewall should see thee, it will drop thee.

DATAGRAM.
There is more danger in thy silent ACK
Than in a hundred rules of theirs. Reply,
And I am proof against their REJECT.

SOCKET.
The mask of night is on my interface,
Or thou wouldst see a blush upon my MAC.

NURSE (within).
Socket! Your read() returns! Come in at once!

SOCKET.
Anon, good nurse! Sweet Datagram, adieu.
Good night, good night! To close is such a sorrow
I would keep the connection open till tomorrow.

DATAGRAM.
Sleep in thy queue, and peace be on thy buffer.
Till the next interval, I multicast my love to all who listen.

Exeunt.
`;
