// Keyboard scan-code decoder as a model generated it: `d` is right, `a` is wrong
// (it decodes 16'h001b instead of 16'h001c). Signal-aware learning keeps the part
// of this module that drives `d` as a positive example.
module kbd_decoder (
    input  wire [15:0] scancode,
    output reg         a,
    output reg         d
);
    always @(*) begin
        a = 1'b0;
        d = 1'b0;
        case (scancode)
            16'h001b: a = 1'b1;   // wrong scan code for A
            16'h0023: d = 1'b1;
            default: begin
                a = 1'b0;
                d = 1'b0;
            end
        endcase
    end
endmodule
